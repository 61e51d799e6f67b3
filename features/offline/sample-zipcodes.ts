import { locationTypes, states, townName } from './sample-geography.js';
import type { SeededRandom } from './seeded-random.js';

/** One zipcode_features row before it is written (timestamps in epoch ms). */
export interface ZipcodeRow {
  zipcode: number;
  city: string;
  state: string;
  location_type: string;
  tax_returns_filed: number;
  population: number;
  total_wages: number;
  event_timestamp: number;
  created_timestamp: number;
}

export const EXAMPLE_ZIPCODE = { zipcode: 76104, city: 'FORT WORTH', state: 'TX' } as const;

const SNAPSHOT_2024 = Date.UTC(2024, 0, 1, 12);
const SNAPSHOT_2025 = Date.UTC(2025, 0, 1, 12);
const SNAPSHOT_2026 = Date.UTC(2026, 0, 1, 12);

interface ZipPlace {
  zipcode: number;
  city: string;
  state: string;
  bigCity: boolean;
}

/** Distinct ZIP codes spread over states by their real share, big cities owning most of their prefixes. */
function placeZipcodes(random: SeededRandom, count: number): ZipPlace[] {
  const totalWeight = states.reduce((sum, s) => sum + s.weight, 0);
  const places: ZipPlace[] = [];
  for (const geo of states) {
    const quota = Math.max(1, Math.round((geo.weight / totalWeight) * count));
    const taken = new Set<number>();
    for (const [city, prefixes] of Object.entries(geo.cities)) {
      for (const prefix of prefixes) {
        for (let zip = prefix * 100 + 1; zip < prefix * 100 + 100; zip++) {
          if (taken.size < quota && random.chance(0.7)) {
            taken.add(zip);
            places.push({ zipcode: zip, city, state: geo.state, bigCity: true });
          }
        }
      }
    }
    const candidates: number[] = [];
    for (const [from, to] of geo.prefixes) {
      for (let prefix = from; prefix <= to; prefix++) {
        for (let zip = prefix * 100; zip < prefix * 100 + 100; zip++)
          if (zip > 0 && !taken.has(zip)) candidates.push(zip);
      }
    }
    // Partial Fisher–Yates: a uniform sample without replacement, in a seed-stable order.
    const need = Math.min(quota - taken.size, candidates.length);
    for (let i = 0; i < need; i++) {
      const j = i + Math.floor(random.next() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
      const town = townName(random.next(), random.next(), random.next());
      places.push({ zipcode: candidates[i], city: town, state: geo.state, bigCity: false });
    }
  }
  const example = places.find((p) => p.zipcode === EXAMPLE_ZIPCODE.zipcode);
  if (example) {
    example.city = EXAMPLE_ZIPCODE.city;
    example.bigCity = true;
  } else {
    places.push({ ...EXAMPLE_ZIPCODE, bigCity: true });
  }
  return places.sort((a, b) => a.zipcode - b.zipcode);
}

/**
 * The zipcode table: one 2024 snapshot per ZIP code, then yearly updates for some of them
 * (2025, 2026), so the latest-row rule and row-group skipping both have work to do.
 */
export function generateZipcodeRows(random: SeededRandom, count: number): ZipcodeRow[] {
  const places = placeZipcodes(random, count);
  const rows: ZipcodeRow[] = [];
  const updates: ZipcodeRow[] = [];
  for (const place of places) {
    const population = Math.round(
      Math.min(
        110_000,
        Math.max(
          300,
          place.bigCity ? random.logNormal(26_000, 0.55) : random.logNormal(2_600, 1.15),
        ),
      ),
    );
    const taxReturns = Math.max(250, Math.round(population * random.uniform(0.42, 0.6)));
    const averageWage = random.logNormal(place.bigCity ? 46_000 : 36_000, 0.33);
    const base: ZipcodeRow = {
      zipcode: place.zipcode,
      city: place.city,
      state: place.state,
      location_type: random.weighted(locationTypes),
      tax_returns_filed: taxReturns,
      population,
      total_wages: random.chance(0.003) ? 0 : Math.round(taxReturns * averageWage),
      event_timestamp: SNAPSHOT_2024,
      created_timestamp: SNAPSHOT_2024,
    };
    if (place.zipcode === EXAMPLE_ZIPCODE.zipcode) base.location_type = 'PRIMARY';
    rows.push(base);
    let latest = base;
    for (const [at, share] of [
      [SNAPSHOT_2025, 0.12],
      [SNAPSHOT_2026, 0.05],
    ] as const) {
      if (!(random.chance(share) || place.zipcode === EXAMPLE_ZIPCODE.zipcode)) continue;
      const growth = 1 + random.normal() * 0.03;
      latest = {
        ...latest,
        population: Math.max(300, Math.round(latest.population * growth)),
        tax_returns_filed: Math.max(250, Math.round(latest.tax_returns_filed * growth)),
        total_wages: Math.round(latest.total_wages * (growth + 0.03)),
        event_timestamp: at,
        created_timestamp: at,
      };
      updates.push(latest);
    }
  }
  // File order is time order, as appended snapshots would be: 2024 rows first, then updates.
  updates.sort((a, b) => a.event_timestamp - b.event_timestamp || a.zipcode - b.zipcode);
  return rows.concat(updates);
}
