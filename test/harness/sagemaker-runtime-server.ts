import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeScoringRequest, type SageMakerContentType } from '../../model/sagemaker-payload.js';

/**
 * A local endpoint speaking the SageMaker runtime API — `POST /endpoints/<name>/invocations`,
 * the body in the request's Content-Type, errors as the service sends them (status,
 * `x-amzn-ErrorType`, JSON body) — so SageMakerScorer runs its real SDK client against it.
 * It decodes every request's payload back to numbers (NaN for missing) so tests can compare it
 * with the vector that was sent.
 */

export type EndpointBehaviour =
  /** Answers this P(default), in the response shape of the request's content type. */
  | { readonly kind: 'probability'; readonly probability: number; readonly label?: 0 | 1 }
  /** Answers what the callback computes from the decoded row. */
  | { readonly kind: 'compute'; readonly score: (row: number[]) => number }
  /** 424 ModelError: the model container answered 500, as SageMaker reports it. */
  | { readonly kind: 'model-error' }
  /** 500 InternalFailure from the service itself. */
  | { readonly kind: 'http-500' }
  /** Answers 200 with a body no scorer can read. */
  | { readonly kind: 'garbage'; readonly body?: string }
  /** Waits, then behaves as `then` (the client usually gives up first). */
  | { readonly kind: 'delay'; readonly ms: number; readonly then: EndpointBehaviour };

/** How a probability is written back: CSV `p` / `label,p`; JSON predictions / probabilities. */
export type ResponseShape = 'csv-p' | 'csv-label-p' | 'json-predictions' | 'json-probabilities';

export interface RecordedInvocation {
  readonly endpointName: string;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly body: string;
  /** The decoded row; NaN where the payload had an empty field / null. */
  readonly row: number[];
  readonly signed: boolean;
}

export interface SageMakerRuntimeServerHandle {
  readonly url: string;
  readonly invocations: RecordedInvocation[];
  behaviour: EndpointBehaviour;
  /** Default: csv-p for text/csv, json-predictions for application/json. */
  responseShape?: ResponseShape;
  stop(): Promise<void>;
}

export async function startSageMakerRuntimeServer(
  behaviour: EndpointBehaviour = { kind: 'probability', probability: 0.25 },
): Promise<SageMakerRuntimeServerHandle> {
  const timers = new Set<NodeJS.Timeout>();
  const handle: SageMakerRuntimeServerHandle = {
    url: '',
    invocations: [],
    behaviour,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer(async (req, res) => {
    const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      return sendError(
        res,
        404,
        'UnknownOperationException',
        `no route for ${req.method} ${req.url}`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const contentType = req.headers['content-type'];
    if (contentType !== 'text/csv' && contentType !== 'application/json') {
      return sendError(res, 400, 'ValidationError', `unsupported content type ${contentType}`);
    }
    let row: number[];
    try {
      row = decodeScoringRequest(body, contentType);
    } catch {
      return sendError(res, 424, 'ModelError', 'model could not parse the payload');
    }
    handle.invocations.push({
      endpointName: decodeURIComponent(match[1]),
      contentType,
      accept: req.headers.accept,
      body,
      row,
      signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? ''),
    });

    const respond = (current: EndpointBehaviour): void => {
      switch (current.kind) {
        case 'delay': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!res.destroyed) respond(current.then);
          }, current.ms);
          timers.add(timer);
          res.once('close', () => clearTimeout(timer));
          return;
        }
        case 'model-error':
          return sendError(res, 424, 'ModelError', 'Received server error (500) from primary', {
            OriginalStatusCode: 500,
            OriginalMessage: 'model crashed',
          });
        case 'http-500':
          return sendError(res, 500, 'InternalFailure', 'internal failure');
        case 'garbage':
          return sendBody(res, contentType, current.body ?? '<html>502 Bad Gateway</html>');
        case 'probability':
        case 'compute': {
          const p = current.kind === 'compute' ? current.score(row) : current.probability;
          const label = current.kind === 'probability' ? current.label : undefined;
          const shape =
            handle.responseShape ?? (contentType === 'text/csv' ? 'csv-p' : 'json-predictions');
          return sendBody(res, contentType, formatScore(shape, p, label ?? (p > 0.5 ? 1 : 0)));
        }
      }
    };
    respond(handle.behaviour);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(handle, { url: `http://127.0.0.1:${port}` });
}

function formatScore(shape: ResponseShape, p: number, label: 0 | 1): string {
  switch (shape) {
    case 'csv-p':
      return `${p}\n`;
    case 'csv-label-p':
      return `${label},${p}\n`;
    case 'json-predictions':
      return JSON.stringify({ predictions: [{ score: p, predicted_label: label }] });
    case 'json-probabilities':
      return JSON.stringify({ probabilities: [[1 - p, p]] });
  }
}

function sendBody(res: http.ServerResponse, contentType: SageMakerContentType, body: string) {
  res.writeHead(200, {
    'content-type': contentType,
    'x-amzn-invoked-production-variant': 'AllTraffic',
  });
  res.end(body);
}

function sendError(
  res: http.ServerResponse,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message, ...extra }));
}
