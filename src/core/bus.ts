import { EventEmitter } from 'node:events';

/**
 * A typed wrapper over EventEmitter: the event names and argument lists come from one map,
 * so an emit with a misspelt name or a wrong payload does not compile.
 */
export class TypedBus<Events extends { [Name in keyof Events]: unknown[] }> {
  readonly #emitter = new EventEmitter();

  emit<Name extends keyof Events & string>(name: Name, ...args: Events[Name]): void {
    this.#emitter.emit(name, ...args);
  }

  on<Name extends keyof Events & string>(name: Name, listener: (...args: Events[Name]) => void): () => void {
    this.#emitter.on(name, listener as (...args: unknown[]) => void);
    return () => this.#emitter.off(name, listener as (...args: unknown[]) => void);
  }

  listenerCount(name: keyof Events & string): number {
    return this.#emitter.listenerCount(name);
  }
}
