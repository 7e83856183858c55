import { type DeadlineStage, deadlineStages, stormCategory } from '../core/incident.ts';
import type { FloodDescription, RuleDescription } from '../core/rule.ts';

/** The console map's settings as the config holds them (config/schema.ts mapSchema). */
export interface MapSettings {
  readonly coordinates: 'WGS84' | 'GCJ02';
  readonly tiles: {
    readonly url: string;
    readonly subdomains: string;
    readonly coordinates: 'WGS84' | 'GCJ02';
    readonly attribution: string;
    readonly maxZoom: number;
  } | null;
}

import type { LifecycleContext } from './lifecycle.ts';

/**
 * What the pages need of the deployment to show incidents as the hub judges them: the time zone rosters and
 * schedules are written in, the categories an incident can have (for filters), and each one's stage deadlines.
 */
export interface ConsoleSettings {
  /** IANA, `hub.timezone`. */
  readonly timeZone: string;
  /** Sorted, each once. */
  readonly categories: readonly string[];
  /** category → stage → the time allowed, in ms, as the lifecycle applies it (the category's own or the default). */
  readonly deadlinesMs: Readonly<Record<string, Readonly<Record<DeadlineStage, number>>>>;
  /** The map: background tiles (null: none) and the systems coordinates are in. */
  readonly map: MapSettings;
}

export interface ConsoleSources {
  readonly timeZone: string;
  readonly rules: readonly RuleDescription[];
  readonly flood: FloodDescription;
  readonly deadlineMs: LifecycleContext['deadlineMs'];
  readonly map: MapSettings;
}

/**
 * The categories incidents can be raised in: every rule's, and the storm's while flood control is on (maxIncidents
 * 0 turns it off). A correlation joins an event into an incident already raised, keeping its category: it adds none.
 */
export function raisedCategories(rules: readonly RuleDescription[], flood: FloodDescription): string[] {
  const categories = new Set(rules.map((rule) => rule.category));
  if (flood.maxIncidents > 0) categories.add(stormCategory);
  return [...categories].sort();
}

export function consoleSettingsOf(sources: ConsoleSources): ConsoleSettings {
  const categories = raisedCategories(sources.rules, sources.flood);
  return {
    timeZone: sources.timeZone,
    categories,
    deadlinesMs: Object.fromEntries(
      categories.map((category) => [
        category,
        Object.fromEntries(
          deadlineStages.map((stage) => [stage, sources.deadlineMs(category, stage)]),
        ) as Record<DeadlineStage, number>,
      ]),
    ),
    map: sources.map,
  };
}

/**
 * The origins the pages load tiles from (for the Content-Security-Policy's img-src): the template's, once per
 * subdomain when its host holds {s}. None without tiles.
 */
export function tileOrigins(map: MapSettings): string[] {
  if (map.tiles === null) return [];
  const origin = /^(https?:\/\/[^/?#]+)/.exec(map.tiles.url)?.[1];
  if (origin === undefined) return [];
  if (!origin.includes('{s}')) return [origin];
  return [...map.tiles.subdomains].map((subdomain) => origin.replaceAll('{s}', subdomain));
}
