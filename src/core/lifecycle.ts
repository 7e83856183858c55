import type { Component, ComponentHealth } from './component.ts';

/**
 * Starts a list of components in its order and stops them in reverse, one named step after another, so that a
 * stop that hangs can say where ({@link stopping}): the process's deadline (STOP_TIMEOUT_SECONDS) names it.
 * Outlets ({@link Component.stopsFirst}) stop before the rest, in reverse among themselves.
 */
export class Lifecycle {
  readonly #components: readonly Component[];
  /** Those whose start() was called, in order: a failed start stops only these. */
  #started: Component[] = [];
  #stopping: string | undefined;

  constructor(components: readonly Component[]) {
    const names = new Set<string>();
    for (const { name } of components) {
      if (names.has(name)) throw new Error(`two components named ${name}`);
      names.add(name);
    }
    this.#components = components;
  }

  /** Starts each component in order; when one throws, stops those begun (it included) and throws its error. */
  async start(): Promise<void> {
    for (const component of this.#components) {
      this.#started.push(component);
      try {
        await component.start();
      } catch (error) {
        await this.stop();
        throw error;
      }
    }
  }

  /** Stops what was started, outlets first, each group in the reverse order of start(). */
  async stop(): Promise<void> {
    const started = this.#started.toReversed();
    this.#started = [];
    const order = [
      ...started.filter((component) => component.stopsFirst === true),
      ...started.filter((component) => component.stopsFirst !== true),
    ];
    try {
      for (const component of order) {
        this.#stopping = component.name;
        await component.stop();
      }
    } finally {
      this.#stopping = undefined;
    }
  }

  /** The component stop() is stopping (`'evidence'`, `'store'`), or undefined when none is. */
  get stopping(): string | undefined {
    return this.#stopping;
  }

  /** What each component reports of itself, by name, in the order of the list. */
  health(): Record<string, ComponentHealth> {
    const report: Record<string, ComponentHealth> = {};
    for (const component of this.#components) {
      const health = component.health();
      if (health !== undefined) report[component.name] = health;
    }
    return report;
  }
}
