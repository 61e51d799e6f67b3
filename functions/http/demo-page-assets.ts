/**
 * The demo page's markup, style and script as plain strings: no framework and no build step, so
 * the page ships inside every bundle (Lambda, Worker, Node) at a few KiB and needs no asset host.
 * The script only talks to POST /loan-decision and writes with textContent (never innerHTML), so
 * nothing the API or the user sends can become markup.
 */

interface Field {
  readonly name: string;
  readonly label: string;
  readonly value: string;
  readonly hint?: string;
  readonly inputMode?: 'numeric' | 'decimal';
  readonly options?: readonly string[];
}

// Prefilled with the API's example request (README, /openapi.json).
const APPLICANT_FIELDS: readonly Field[] = [
  { name: 'zipcode', label: 'ZIP code', value: '76104', hint: '5 digits', inputMode: 'numeric' },
  {
    name: 'dob_ssn',
    label: 'Date of birth and SSN',
    value: '19630621_4278',
    hint: 'YYYYMMDD_NNNN: date of birth, underscore, last 4 SSN digits',
  },
  { name: 'person_age', label: 'Age', value: '133', hint: 'Years', inputMode: 'numeric' },
  { name: 'person_income', label: 'Yearly income', value: '59000', inputMode: 'decimal' },
  {
    name: 'person_home_ownership',
    label: 'Home ownership',
    value: 'RENT',
    options: ['RENT', 'OWN', 'MORTGAGE', 'OTHER'],
  },
  {
    name: 'person_emp_length',
    label: 'Employment length',
    value: '123',
    hint: 'Years; leave empty if unknown',
    inputMode: 'decimal',
  },
];

const LOAN_FIELDS: readonly Field[] = [
  {
    name: 'loan_intent',
    label: 'Purpose',
    value: 'PERSONAL',
    options: [
      'PERSONAL',
      'EDUCATION',
      'MEDICAL',
      'VENTURE',
      'HOMEIMPROVEMENT',
      'DEBTCONSOLIDATION',
    ],
  },
  { name: 'loan_amnt', label: 'Amount', value: '35000', inputMode: 'decimal' },
  {
    name: 'loan_int_rate',
    label: 'Interest rate',
    value: '16.02',
    hint: 'Percent; leave empty if unknown',
    inputMode: 'decimal',
  },
];

function fieldHtml(field: Field): string {
  const id = `f-${field.name}`;
  const describedBy = [field.hint ? `hint-${field.name}` : '', `err-${field.name}`]
    .join(' ')
    .trim();
  const control = field.options
    ? `<select id="${id}" name="${field.name}" aria-describedby="${describedBy}">${field.options
        .map((o) => `<option${o === field.value ? ' selected' : ''}>${o}</option>`)
        .join('')}</select>`
    : `<input id="${id}" name="${field.name}" value="${field.value}" autocomplete="off"${
        field.inputMode ? ` inputmode="${field.inputMode}"` : ''
      } aria-describedby="${describedBy}">`;
  return `<div class="field">
<label for="${id}">${field.label}</label>
${field.hint ? `<p class="hint" id="hint-${field.name}">${field.hint}</p>` : ''}
${control}
<p class="field-error" id="err-${field.name}" hidden></p>
</div>`;
}

export const DEMO_PAGE_STYLE = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; background: #f4f5f7; color: #1b1b1b; line-height: 1.5; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
.intro { margin: 0 0 1.25rem; color: #3d3d3d; }
form, .result { background: #fff; border: 1px solid #c9ccd1; border-radius: 8px; padding: 1rem 1.25rem; }
fieldset { border: 1px solid #c9ccd1; border-radius: 6px; margin: 0 0 1rem; padding: .75rem 1rem 0; }
legend { font-weight: 700; padding: 0 .35rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 0 1.25rem; }
.field { margin-bottom: .9rem; }
label { display: block; font-weight: 600; }
.hint { margin: 0; font-size: .875rem; color: #4a4a4a; }
input, select { box-sizing: border-box; width: 100%; margin-top: .25rem; padding: .45rem .55rem;
  font: inherit; color: inherit; background: #fff; border: 1px solid #6b6f76; border-radius: 4px; }
input[aria-invalid="true"], select[aria-invalid="true"] { border: 2px solid #a4001d; }
.field-error { margin: .25rem 0 0; color: #a4001d; font-weight: 600; font-size: .9rem; }
button { font: inherit; font-weight: 700; color: #fff; background: #1a56db; border: 0;
  border-radius: 6px; padding: .6rem 1.4rem; cursor: pointer; }
button:hover { background: #1646b3; }
button[disabled] { background: #5a6472; cursor: progress; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.result { margin-top: 1.25rem; }
.result h2 { margin: 0 0 .5rem; font-size: 1.35rem; }
.result.approved { border: 2px solid #1e6b3a; background: #eef8f1; }
.result.approved h2 { color: #0f4d26; }
.result.rejected { border: 2px solid #a4001d; background: #fdf0f1; }
.result.rejected h2 { color: #7a0016; }
.result.problem { border: 2px solid #a4001d; }
.result ol, .result ul { padding-left: 1.4rem; margin: .25rem 0 .75rem; }
.meta { font-size: .85rem; color: #4a4a4a; margin: .5rem 0 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .95em; }
`;

export const DEMO_PAGE_SCRIPT = `
(() => {
  'use strict';
  const form = document.getElementById('application');
  const result = document.getElementById('result');
  const submit = document.getElementById('submit');
  const NUMBERS = ['person_age', 'person_income', 'person_emp_length', 'loan_amnt', 'loan_int_rate'];
  const OPTIONAL = ['person_emp_length', 'loan_int_rate'];

  function requestBody() {
    const body = {};
    for (const control of form.elements) {
      if (!control.name) continue;
      const text = control.value.trim();
      if (text === '') {
        if (OPTIONAL.includes(control.name)) body[control.name] = null;
        continue; // absent: the API names it as required
      }
      const number = Number(text);
      if (control.name === 'zipcode') body.zipcode = /^[0-9]{5}$/.test(text) ? number : text;
      else if (NUMBERS.includes(control.name)) body[control.name] = Number.isFinite(number) ? number : text;
      else body[control.name] = text;
    }
    return body;
  }

  function node(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined) element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function list(tag, items) {
    const element = node(tag);
    for (const item of items) element.append(node('li', item));
    return element;
  }

  function show(kind, children) {
    result.className = 'result ' + kind;
    result.replaceChildren(...children);
  }

  function clearFieldErrors() {
    for (const error of form.querySelectorAll('.field-error')) {
      error.textContent = '';
      error.hidden = true;
    }
    for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  }

  function percent(p) {
    return (p * 100).toFixed(1) + '%';
  }

  function showDecision(decision) {
    const approved = decision.decision === 'approved';
    const probability = node('data', percent(decision.probability_of_default));
    probability.value = String(decision.probability_of_default);
    probability.id = 'probability';
    const line = node('p', 'Probability of default: ');
    line.append(probability, ' (threshold ' + percent(decision.threshold) + ')');
    const children = [node('h2', approved ? 'Approved' : 'Rejected'), line];
    if (decision.reasons.length > 0) {
      children.push(node('h3', 'Why'));
      children.push(list('ol', decision.reasons.map((r) =>
        r.condition + ' (applicant: ' + (r.value === null ? 'missing' : r.value) + ')')));
    }
    if (decision.warnings.length > 0) {
      children.push(node('h3', 'Warnings'), list('ul', decision.warnings));
    }
    children.push(node('p', 'Model ' + decision.model_version + ' · features from ' +
      decision.features.served_by + ' · request ' + decision.request_id, 'meta'));
    show(approved ? 'approved' : 'rejected', children);
  }

  function showFieldErrors(fields) {
    const elsewhere = [];
    let first;
    for (const problem of fields) {
      const error = document.getElementById('err-' + problem.field);
      const control = document.getElementById('f-' + problem.field);
      if (!error || !control) {
        elsewhere.push(problem.field + ': ' + problem.message);
        continue;
      }
      error.textContent = problem.message;
      error.hidden = false;
      control.setAttribute('aria-invalid', 'true');
      first = first || control;
    }
    const count = fields.length === 1 ? '1 field needs' : fields.length + ' fields need';
    const children = [node('h2', 'Please check the form'), node('p', count + ' attention.')];
    if (elsewhere.length > 0) children.push(list('ul', elsewhere));
    show('problem', children);
    if (first) first.focus();
  }

  function showProblem(title, message) {
    show('problem', [node('h2', title), node('p', message)]);
  }

  async function decide(event) {
    event.preventDefault();
    clearFieldErrors();
    form.setAttribute('aria-busy', 'true');
    submit.disabled = true;
    submit.textContent = 'Deciding…';
    try {
      const response = await fetch('loan-decision', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(requestBody()),
      });
      const body = await response.json().catch(() => null);
      const error = body && body.error;
      if (response.ok && body) showDecision(body);
      else if (response.status === 400 && error && error.fields) showFieldErrors(error.fields);
      else if (response.status === 422) {
        showProblem('No decision for this applicant', error ? error.message : 'features unavailable');
      } else if (response.status === 503) {
        const wait = response.headers.get('retry-after') || '1';
        showProblem('Service temporarily unavailable',
          (error ? error.message : 'try again later') + ' Please retry in ' + wait + ' s.');
      } else {
        showProblem('Request failed (HTTP ' + response.status + ')', error ? error.message : 'unexpected response');
      }
    } catch (failure) {
      showProblem('Could not reach the API', String(failure && failure.message || failure));
    } finally {
      form.removeAttribute('aria-busy');
      submit.disabled = false;
      submit.textContent = 'Get decision';
    }
  }

  form.addEventListener('submit', decide);
})();
`;

export const DEMO_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loan decision demo</title>
<style>${DEMO_PAGE_STYLE}</style>
</head>
<body>
<main>
<h1>Loan decision demo</h1>
<p class="intro">Fill in an application and get the model's decision with its reasons.
The API is <code>POST /loan-decision</code>; see <a href="openapi.json">openapi.json</a>.</p>
<form id="application" novalidate>
<fieldset>
<legend>Applicant</legend>
<div class="grid">
${APPLICANT_FIELDS.map(fieldHtml).join('\n')}
</div>
</fieldset>
<fieldset>
<legend>Loan</legend>
<div class="grid">
${LOAN_FIELDS.map(fieldHtml).join('\n')}
</div>
</fieldset>
<button type="submit" id="submit">Get decision</button>
</form>
<section id="result" class="result" aria-live="polite" aria-atomic="true" aria-label="Decision">
<p>Submit the application to see the decision.</p>
</section>
</main>
<script>${DEMO_PAGE_SCRIPT}</script>
</body>
</html>
`;
