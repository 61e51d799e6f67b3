import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { FeatureViewName } from '../definitions.js';
import { DYNAMODB_PARTITION_KEY } from '../online/key-layout.js';
import {
  WINDOW_RECORD_TTL_SECONDS,
  WatermarkStateError,
  type PlannedWindow,
  type WatermarkStore,
} from './watermark-store.js';

/**
 * Watermarks as items of the feature table itself (no second table to provision):
 *   pk `_materialization#<view>`          `watermark` N (epoch ms)
 *   pk `_materialization_window#<id>`     `window` S (JSON), `completed` NS (unit indexes),
 *                                          `expires_at` N (epoch s, for a DynamoDB TTL if enabled)
 * The `_` prefix cannot collide with entity items (`zipcode#…`, `dob_ssn#…`). Conditional writes
 * keep the watermark monotonic, and `ADD` to a number set counts each unit once however often a
 * queue redelivers it. Reads are strongly consistent: completion decisions must see the last ADD.
 */
export class DynamoDbWatermarkStore implements WatermarkStore {
  readonly name = 'dynamodb' as const;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getWatermark(view: FeatureViewName): Promise<number | null> {
    const item = await this.get(`_materialization#${view}`);
    const value = item?.watermark?.N;
    return value === undefined ? null : Number(value);
  }

  async advanceWatermark(view: FeatureViewName, to: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [DYNAMODB_PARTITION_KEY]: { S: `_materialization#${view}` } },
          UpdateExpression: 'SET watermark = :to, updated_at = :now',
          ConditionExpression: 'attribute_not_exists(watermark) OR watermark < :to',
          ExpressionAttributeValues: {
            ':to': { N: String(to) },
            ':now': { N: String(Date.now()) },
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || isConditionalFailure(error))
        return false;
      throw this.fail('cannot advance watermark', error);
    }
  }

  async recordWindow(window: PlannedWindow): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [DYNAMODB_PARTITION_KEY]: { S: windowKey(window.windowId) },
            window: { S: JSON.stringify(window) },
            expires_at: { N: String(Math.floor(Date.now() / 1000) + WINDOW_RECORD_TTL_SECONDS) },
          },
          ConditionExpression: `attribute_not_exists(${DYNAMODB_PARTITION_KEY})`,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || isConditionalFailure(error)) return;
      throw this.fail('cannot record window', error);
    }
  }

  async getWindow(windowId: string): Promise<PlannedWindow | null> {
    const value = (await this.get(windowKey(windowId)))?.window?.S;
    return value === undefined ? null : (JSON.parse(value) as PlannedWindow);
  }

  async markUnitComplete(windowId: string, unitIndex: number): Promise<number> {
    try {
      const response = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [DYNAMODB_PARTITION_KEY]: { S: windowKey(windowId) } },
          UpdateExpression: 'ADD completed :unit',
          // A unit of a window that was never recorded (or has expired) must not create a stub.
          ConditionExpression: `attribute_exists(${DYNAMODB_PARTITION_KEY})`,
          ExpressionAttributeValues: { ':unit': { NS: [String(unitIndex)] } },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return response.Attributes?.completed?.NS?.length ?? 0;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || isConditionalFailure(error)) {
        throw new WatermarkStateError('dynamodb', `window ${windowId} was never planned`);
      }
      throw this.fail('cannot mark unit complete', error);
    }
  }

  async completedUnitCount(windowId: string): Promise<number> {
    return (await this.get(windowKey(windowId)))?.completed?.NS?.length ?? 0;
  }

  private async get(pk: string) {
    try {
      const response = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { [DYNAMODB_PARTITION_KEY]: { S: pk } },
          ConsistentRead: true,
        }),
      );
      return response.Item;
    } catch (error) {
      throw this.fail(`cannot read ${pk}`, error);
    }
  }

  private fail(message: string, error: unknown): WatermarkStateError {
    const detail = (error as Error)?.message ?? String(error);
    return new WatermarkStateError(
      'dynamodb',
      `${message} in table ${this.tableName} (${detail})`,
      {
        cause: error,
      },
    );
  }
}

function windowKey(windowId: string): string {
  return `_materialization_window#${windowId}`;
}

/** dynalite and older SDK paths surface the condition failure by name only. */
function isConditionalFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}
