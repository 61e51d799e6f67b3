/**
 * A local endpoint speaking the SQS JSON protocol (AWS JSON 1.0) for SendMessageBatch — enough
 * for the scheduled materializer to enqueue its units through the real @aws-sdk/client-sqs
 * (including its MD5 check of every body). Messages are kept for the test to deliver to the
 * subscriber as an SQSEvent. No local SQS exists on this machine.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SqsMessage {
  readonly messageId: string;
  readonly body: string;
  readonly queueUrl: string;
  /** FIFO queues: the entry's message group. */
  readonly groupId?: string;
}

export interface SqsServerHandle {
  readonly endpoint: string;
  readonly messages: SqsMessage[];
  /** Entry ids to report as Failed in the next SendMessageBatch. */
  failNext: number;
  stop(): Promise<void>;
}

export async function startSqsServer(): Promise<SqsServerHandle> {
  const handle: SqsServerHandle = {
    endpoint: '',
    messages: [],
    failNext: 0,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      if (target !== 'AmazonSQS.SendMessageBatch') {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InvalidAction', message: target }));
        return;
      }
      const input = JSON.parse(raw) as {
        QueueUrl: string;
        Entries: { Id: string; MessageBody: string; MessageGroupId?: string }[];
      };
      const Successful = [];
      const Failed = [];
      for (const entry of input.Entries) {
        if (handle.failNext > 0) {
          handle.failNext--;
          Failed.push({ Id: entry.Id, Code: 'InternalError', SenderFault: false, Message: 'test' });
          continue;
        }
        const MessageId = randomUUID();
        handle.messages.push({
          messageId: MessageId,
          body: entry.MessageBody,
          queueUrl: input.QueueUrl,
          groupId: entry.MessageGroupId,
        });
        Successful.push({
          Id: entry.Id,
          MessageId,
          MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex'),
        });
      }
      res.end(JSON.stringify({ Successful, Failed }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (handle as { endpoint: string }).endpoint =
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return handle;
}
