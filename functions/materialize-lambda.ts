import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ScheduledEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { Resource } from 'sst';
import {
  createMaterializeDeps,
  materializeConfigFromEnv,
  type OwnedDeps,
} from '../features/materialize/deps.js';
import {
  consumeMaterializationMessage,
  dispatchMaterialization,
} from '../features/materialize/fan-out.js';
import { InvalidUnitMessageError, parseUnit } from '../features/materialize/unit-message.js';
import { featureViewByName } from '../features/definitions.js';
import { createS3Client } from '../features/offline/byte-range.js';
import { linkedResourceEnv } from './linked-resources.js';
import { createLogger } from './logger.js';

/**
 * Materialization on AWS, two Lambdas from one core (features/materialize):
 * - `schedule` (SST CronV2): plans the window (watermark, now] and sends its units to SQS;
 * - `unit` (the queue's subscriber): runs one unit a message; a failure is reported as a batch
 *   item failure so SQS redelivers only that message. The watermark advances when the last
 *   unit of the window completes (tracked durably in DynamoDB).
 * Both log one JSON line per run: the summary the CLI prints as its last line.
 */

const logger = createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'info');

/** What the linked resources provide; explicit variables override (local runs and tests). */
function settings() {
  const env: Record<string, string | undefined> = { ...linkedResourceEnv(), ...process.env };
  const linked = Resource as unknown as Record<string, Record<string, string> | undefined>;
  const read = (get: () => string | undefined) => {
    try {
      return get();
    } catch {
      return undefined;
    }
  };
  const bucket = read(() => linked.FeatureSources?.name);
  return {
    env,
    source: env.MATERIALIZE_SOURCE ?? (bucket ? `s3://${bucket}` : undefined),
    queueUrl: env.MATERIALIZE_QUEUE_URL ?? read(() => linked.MaterializeUnits?.url),
  };
}

async function materializeDeps(): Promise<OwnedDeps> {
  const { env, source } = settings();
  if (!source) {
    throw new Error('no Parquet source: link the FeatureSources bucket or set MATERIALIZE_SOURCE');
  }
  return createMaterializeDeps(source, materializeConfigFromEnv(env), {
    s3: source.startsWith('s3://')
      ? createS3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, region: env.AWS_REGION })
      : undefined,
  });
}

let sqs: SQSClient | undefined;

function messageGroupOf(body: string): string {
  return featureViewByName(parseUnit(body).view).entity.name;
}

export async function schedule(event: Partial<ScheduledEvent> = {}): Promise<void> {
  const { queueUrl } = settings();
  if (!queueUrl) throw new Error('no queue: link MaterializeUnits or set MATERIALIZE_QUEUE_URL');
  sqs ??= new SQSClient({});
  // EventBridge rules send the scheduled time; the Scheduler behind CronV2 may send nothing.
  const end = event.time ? Date.parse(event.time) : Date.now();
  const deps = await materializeDeps();
  try {
    const { plan, advancedNow } = await dispatchMaterialization(deps, { end }, async (bodies) => {
      const { Failed } = await sqs!.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies.map((MessageBody, i) => ({
            Id: String(i),
            MessageBody,
            // One group per entity: the FIFO queue then never runs two units of the same entity
            // at once (see infra/materialize.ts for why DynamoDB needs that).
            MessageGroupId: messageGroupOf(MessageBody),
          })),
        }),
      );
      // A unit that was not enqueued never completes, so the window cannot advance: fail loudly
      // and let the next schedule re-plan the same window.
      if (Failed?.length) {
        throw new Error(
          `SQS refused ${Failed.length} of ${bodies.length} units: ${Failed[0].Code}`,
        );
      }
    });
    logger.info({
      msg: 'materialization planned',
      window_id: plan.windowId,
      units: plan.units.length,
      end: new Date(end).toISOString(),
      advanced_now: advancedNow,
    });
  } finally {
    await deps.close();
  }
}

export async function unit(event: SQSEvent): Promise<SQSBatchResponse> {
  const deps = await materializeDeps();
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  try {
    for (const record of event.Records) {
      try {
        const result = await consumeMaterializationMessage(deps, record.body);
        logger.info({ msg: 'materialization unit done', message_id: record.messageId, ...result });
      } catch (error) {
        if (error instanceof InvalidUnitMessageError) {
          // Redelivering a message that cannot be parsed would fail forever: drop it, loudly.
          logger.error({
            msg: 'invalid materialization message dropped',
            message_id: record.messageId,
            error,
          });
          continue;
        }
        logger.error({ msg: 'materialization unit failed', message_id: record.messageId, error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
  } finally {
    await deps.close();
  }
  return { batchItemFailures };
}
