/**
 * Geography for the generated zipcode table: states with their ZIP 3-digit prefix ranges and
 * approximate share of US ZIP codes (public USPS facts), a few large cities per state that own
 * whole prefixes, and a small-town name generator. The skew — many ZIP codes in TX/CA/NY, big
 * cities owning dozens of ZIP codes, most towns owning one — is what the model's categorical
 * encodings and the stores' key spread meet on real data.
 */

export interface StateGeography {
  readonly state: string;
  /** Relative number of ZIP codes. */
  readonly weight: number;
  /** Inclusive 3-digit prefix ranges. */
  readonly prefixes: readonly (readonly [number, number])[];
  /** city → its ZIP prefixes (each city owns most ZIP codes of its prefixes). */
  readonly cities: Readonly<Record<string, readonly number[]>>;
}

export const states: readonly StateGeography[] = [
  {
    state: 'AL',
    weight: 640,
    prefixes: [[350, 369]],
    cities: { BIRMINGHAM: [352], MONTGOMERY: [361], MOBILE: [366] },
  },
  { state: 'AK', weight: 240, prefixes: [[995, 999]], cities: { ANCHORAGE: [995] } },
  {
    state: 'AZ',
    weight: 400,
    prefixes: [[850, 865]],
    cities: { PHOENIX: [850], TUCSON: [857], MESA: [852] },
  },
  { state: 'AR', weight: 590, prefixes: [[716, 729]], cities: { 'LITTLE ROCK': [722] } },
  {
    state: 'CA',
    weight: 1760,
    prefixes: [[900, 961]],
    cities: {
      'LOS ANGELES': [900],
      'SAN DIEGO': [921],
      'SAN FRANCISCO': [941],
      'SAN JOSE': [951],
      SACRAMENTO: [958],
      FRESNO: [937],
      OAKLAND: [946],
    },
  },
  {
    state: 'CO',
    weight: 520,
    prefixes: [[800, 816]],
    cities: { DENVER: [802], 'COLORADO SPRINGS': [809] },
  },
  { state: 'CT', weight: 280, prefixes: [[60, 69]], cities: { HARTFORD: [61] } },
  { state: 'DE', weight: 70, prefixes: [[197, 199]], cities: { WILMINGTON: [198] } },
  {
    state: 'DC',
    weight: 50,
    prefixes: [
      [200, 200],
      [202, 205],
    ],
    cities: { WASHINGTON: [200, 202, 203, 204, 205] },
  },
  {
    state: 'FL',
    weight: 980,
    prefixes: [[320, 349]],
    cities: { MIAMI: [331], JACKSONVILLE: [322], TAMPA: [336], ORLANDO: [328] },
  },
  {
    state: 'GA',
    weight: 740,
    prefixes: [
      [300, 319],
      [398, 399],
    ],
    cities: { ATLANTA: [303], SAVANNAH: [314] },
  },
  { state: 'HI', weight: 95, prefixes: [[967, 968]], cities: { HONOLULU: [968] } },
  { state: 'ID', weight: 280, prefixes: [[832, 838]], cities: { BOISE: [837] } },
  {
    state: 'IL',
    weight: 1380,
    prefixes: [[600, 629]],
    cities: { CHICAGO: [606], SPRINGFIELD: [627] },
  },
  { state: 'IN', weight: 780, prefixes: [[460, 479]], cities: { INDIANAPOLIS: [462] } },
  { state: 'IA', weight: 940, prefixes: [[500, 528]], cities: { 'DES MOINES': [503] } },
  { state: 'KS', weight: 700, prefixes: [[660, 679]], cities: { WICHITA: [672] } },
  {
    state: 'KY',
    weight: 770,
    prefixes: [[400, 427]],
    cities: { LOUISVILLE: [402], LEXINGTON: [405] },
  },
  {
    state: 'LA',
    weight: 520,
    prefixes: [[700, 714]],
    cities: { 'NEW ORLEANS': [701], 'BATON ROUGE': [708] },
  },
  { state: 'ME', weight: 430, prefixes: [[39, 49]], cities: { PORTLAND: [41] } },
  { state: 'MD', weight: 470, prefixes: [[206, 219]], cities: { BALTIMORE: [212] } },
  { state: 'MA', weight: 540, prefixes: [[10, 27]], cities: { BOSTON: [21, 22] } },
  {
    state: 'MI',
    weight: 980,
    prefixes: [[480, 499]],
    cities: { DETROIT: [482], 'GRAND RAPIDS': [495] },
  },
  {
    state: 'MN',
    weight: 890,
    prefixes: [[550, 567]],
    cities: { MINNEAPOLIS: [554], 'SAINT PAUL': [551] },
  },
  { state: 'MS', weight: 440, prefixes: [[386, 397]], cities: { JACKSON: [392] } },
  {
    state: 'MO',
    weight: 1020,
    prefixes: [[630, 658]],
    cities: { 'SAINT LOUIS': [631], 'KANSAS CITY': [641], SPRINGFIELD: [658] },
  },
  { state: 'MT', weight: 370, prefixes: [[590, 599]], cities: { BILLINGS: [591] } },
  { state: 'NE', weight: 580, prefixes: [[680, 693]], cities: { OMAHA: [681], LINCOLN: [685] } },
  { state: 'NV', weight: 180, prefixes: [[889, 898]], cities: { 'LAS VEGAS': [891], RENO: [895] } },
  { state: 'NH', weight: 250, prefixes: [[30, 38]], cities: { MANCHESTER: [31] } },
  { state: 'NJ', weight: 600, prefixes: [[70, 89]], cities: { NEWARK: [71], 'JERSEY CITY': [73] } },
  { state: 'NM', weight: 370, prefixes: [[870, 884]], cities: { ALBUQUERQUE: [871] } },
  {
    state: 'NY',
    weight: 1780,
    prefixes: [[100, 149]],
    cities: {
      'NEW YORK': [100, 101, 102],
      BROOKLYN: [112],
      BRONX: [104],
      BUFFALO: [142],
      ROCHESTER: [146],
    },
  },
  {
    state: 'NC',
    weight: 840,
    prefixes: [[270, 289]],
    cities: { CHARLOTTE: [282], RALEIGH: [276], GREENSBORO: [274] },
  },
  { state: 'ND', weight: 390, prefixes: [[580, 588]], cities: { FARGO: [581] } },
  {
    state: 'OH',
    weight: 1200,
    prefixes: [[430, 459]],
    cities: { COLUMBUS: [432], CLEVELAND: [441], CINCINNATI: [452] },
  },
  {
    state: 'OK',
    weight: 640,
    prefixes: [[730, 749]],
    cities: { 'OKLAHOMA CITY': [731], TULSA: [741] },
  },
  { state: 'OR', weight: 420, prefixes: [[970, 979]], cities: { PORTLAND: [972], SALEM: [973] } },
  {
    state: 'PA',
    weight: 1800,
    prefixes: [[150, 196]],
    cities: { PHILADELPHIA: [191], PITTSBURGH: [152] },
  },
  { state: 'RI', weight: 80, prefixes: [[28, 29]], cities: { PROVIDENCE: [29] } },
  {
    state: 'SC',
    weight: 430,
    prefixes: [[290, 299]],
    cities: { COLUMBIA: [292], CHARLESTON: [294] },
  },
  { state: 'SD', weight: 370, prefixes: [[570, 577]], cities: { 'SIOUX FALLS': [571] } },
  {
    state: 'TN',
    weight: 640,
    prefixes: [[370, 385]],
    cities: { NASHVILLE: [372], MEMPHIS: [381], KNOXVILLE: [379] },
  },
  {
    state: 'TX',
    weight: 1940,
    prefixes: [
      [750, 799],
      [885, 885],
    ],
    cities: {
      HOUSTON: [770, 772],
      DALLAS: [752, 753],
      'SAN ANTONIO': [782],
      AUSTIN: [787],
      'FORT WORTH': [761],
      'EL PASO': [799],
    },
  },
  { state: 'UT', weight: 300, prefixes: [[840, 847]], cities: { 'SALT LAKE CITY': [841] } },
  { state: 'VT', weight: 280, prefixes: [[50, 59]], cities: { BURLINGTON: [54] } },
  {
    state: 'VA',
    weight: 900,
    prefixes: [
      [201, 201],
      [220, 246],
    ],
    cities: { RICHMOND: [232], 'VIRGINIA BEACH': [234] },
  },
  {
    state: 'WA',
    weight: 600,
    prefixes: [[980, 994]],
    cities: { SEATTLE: [981], SPOKANE: [992], TACOMA: [984] },
  },
  { state: 'WV', weight: 700, prefixes: [[247, 268]], cities: { CHARLESTON: [253] } },
  {
    state: 'WI',
    weight: 770,
    prefixes: [[530, 549]],
    cities: { MILWAUKEE: [532], MADISON: [537] },
  },
  { state: 'WY', weight: 180, prefixes: [[820, 831]], cities: { CHEYENNE: [820] } },
];

const townStems = [
  'OAK',
  'MAPLE',
  'CEDAR',
  'PINE',
  'ELM',
  'WILLOW',
  'SPRING',
  'FAIR',
  'GREEN',
  'RIVER',
  'LAKE',
  'HILL',
  'GLEN',
  'ROCK',
  'SAND',
  'CLEAR',
  'STONE',
  'BROOK',
  'RED',
  'WHITE',
  'BLACK',
  'SILVER',
  'MILL',
  'BRIDGE',
  'WOOD',
  'SUMMER',
  'ASH',
  'BIRCH',
  'CLAY',
  'DEER',
  'EAGLE',
  'FOX',
  'HAWK',
  'HOPE',
  'IRON',
  'LIBERTY',
  'UNION',
  'FRANKLIN',
  'CLINTON',
  'MARION',
  'SALEM',
  'GEORGE',
  'HARRIS',
  'WASHING',
  'LINCOLN',
  'CAMDEN',
  'BRAD',
  'CARL',
  'DAN',
  'ELLIS',
  'GRAN',
  'HAMIL',
  'KING',
  'LAN',
  'MANS',
  'NEWBERRY',
  'OX',
  'PRES',
  'RICH',
  'SHEL',
  'TAYLOR',
  'WAR',
  'WIN',
] as const;
const townSuffixes = [
  'VILLE',
  'TON',
  'BURG',
  'FIELD',
  'WOOD',
  'DALE',
  'PORT',
  'LAND',
  'FORD',
  'BORO',
  ' CREEK',
  ' SPRINGS',
  ' FALLS',
  ' CITY',
  ' HEIGHTS',
  ' GROVE',
  ' PARK',
  'VIEW',
  ' RIDGE',
  'HAVEN',
  'MONT',
  ' CENTER',
  ' JUNCTION',
  ' VALLEY',
  ' HILLS',
  'WELL',
] as const;
const townPrefixes = [
  '',
  '',
  '',
  '',
  '',
  '',
  'NEW ',
  'EAST ',
  'WEST ',
  'NORTH ',
  'SOUTH ',
  'MOUNT ',
  'LAKE ',
] as const;

/** A small-town name from three uniform draws in [0, 1). */
export function townName(a: number, b: number, c: number): string {
  const stem = townStems[Math.floor(a * townStems.length)];
  const suffix = townSuffixes[Math.floor(b * townSuffixes.length)];
  const prefix = townPrefixes[Math.floor(c * townPrefixes.length)];
  return `${prefix}${stem}${suffix}`;
}

/** USPS location types: most ZIP codes have one PRIMARY city name, some carry alternates. */
export const locationTypes = [
  ['PRIMARY', 0.975],
  ['ACCEPTABLE', 0.02],
  ['NOT ACCEPTABLE', 0.005],
] as const;
