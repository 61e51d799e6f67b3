import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { parseConfig } from './config.js';
import { createNodeRuntime } from './node-runtime.js';

/** Local server: `npm start`. Reads process.env, wires the app, serves on PORT (default 3000). */

const config = parseConfig(process.env);
const runtime = await createNodeRuntime(config, {
  clientIp: (c) => getConnInfo(c).remote.address,
});

const server = serve(
  { fetch: runtime.app.fetch, port: config.PORT, hostname: config.HOST },
  (info) => {
    const base = `http://localhost:${info.port}`;
    console.log(`loan-decision API on ${base} (store: ${runtime.store.name})
Try:
  curl -s ${base}/loan-decision -H 'content-type: application/json' \\
    -d '{"zipcode": 76104, "dob_ssn": "19630621_4278", "person_age": 133, "person_income": 59000, "person_home_ownership": "RENT", "person_emp_length": 123.0, "loan_intent": "PERSONAL", "loan_amnt": 35000, "loan_int_rate": 16.02}'
OpenAPI: ${base}/openapi.json`);
  },
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void runtime.close().finally(() => process.exit(0));
  });
}
