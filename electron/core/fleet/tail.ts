/**
 * Follows a stream (or the subjects of it that match a filter) in order, for as long as the fleet
 * runs. An ordered consumer does the work, but on nats-server 2.9 it does not recover when the
 * server holding it dies (its heartbeats go missing forever), so the tail watches for that itself
 * and starts a new consumer just after the last message it handled. Messages are handed over one
 * at a time, in stream order, each exactly once.
 */
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import type { FleetLink } from './link.js';

/** Missed idle heartbeats after which the consumer is taken for dead and replaced. */
const DEAD_AFTER_MISSED = 2;
const RESTART_DELAY_MS = 250;

export interface TailOptions {
  stream: string;
  filter?: string;
  /** `all`: from the first message; `last-per-subject`: only the newest of each subject, then everything new. */
  start: 'all' | 'last-per-subject';
  /** Called in order; an exception is logged and the message counts as handled. */
  onMessage: (msg: JsMsg) => void;
  log: Logger;
}

export class StreamTail {
  /** Stream sequence of the last message handed over (0: none yet). */
  lastSeq = 0;
  private stopped = false;
  private current: { stop(): void } | null = null;
  private readonly waiters: Array<{ seq: number; resolve: () => void }> = [];
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: FleetLink,
    private readonly options: TailOptions,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  /** Resolves once a message at `seq` or later has been handled. */
  reached(seq: number): Promise<void> {
    if (this.lastSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    await this.running;
  }

  private async loop(): Promise<void> {
    await this.link.ready;
    let reported = false;
    while (!this.stopped) {
      try {
        await this.follow();
        reported = false;
      } catch (error) {
        if (this.stopped) return;
        if (!reported)
          this.options.log.warn(`following ${this.options.stream} failed (${(error as Error).message}); retrying`);
        reported = true;
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
    }
  }

  /** One consumer's life: ends when it dies, is replaced, or the tail stops. */
  private async follow(): Promise<void> {
    const { stream, filter, start } = this.options;
    const resume = this.lastSeq > 0 || start === 'all';
    const consumer = await this.link.js.consumers.get(stream, {
      ...(filter ? { filter_subjects: filter } : {}),
      ...(resume
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
        : { deliver_policy: DeliverPolicy.LastPerSubject }),
    });
    // Pulls expire every 4 s, so idle heartbeats come every 2 s and a dead consumer shows within ~4 s.
    const messages = await consumer.consume({ max_messages: 512, expires: 4000 });
    this.current = { stop: () => void messages.close() };
    if (this.stopped) {
      await messages.close();
      return;
    }
    void (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'heartbeats_missed' && status.count >= DEAD_AFTER_MISSED) {
          await messages.close();
          return;
        }
      }
    })().catch(() => undefined);
    for await (const msg of messages) {
      // After a replacement the new consumer starts after lastSeq; anything older is a repeat.
      if (msg.seq <= this.lastSeq) continue;
      this.lastSeq = msg.seq;
      try {
        this.options.onMessage(msg);
      } catch (error) {
        this.options.log.error(`${stream} message ${msg.seq}: ${(error as Error).message}`);
      }
      this.wake();
    }
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.lastSeq >= this.waiters[i].seq) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
  }
}
