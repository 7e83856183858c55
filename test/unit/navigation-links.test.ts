import path from 'node:path';
import { pathToFileURL } from 'node:url';
import gcoord from 'gcoord';
import { describe, expect, it } from 'vitest';

type Link = { provider: string; url: string };
type Task = { id: string; state: string; severity: string; dueAt: string | null; createdAt: string };
type NavigationModule = {
  byUrgency: (a: Task, b: Task, now?: number) => number;
  navigationLinks: (
    place: { name: string; location?: [number, number]; coordinates: 'WGS84' | 'GCJ02' },
    transform: (point: [number, number], from: string, to: string) => [number, number],
  ) => Link[];
};

// The page's own module (plain JS, no types): loaded by URL.
const { byUrgency, navigationLinks } = (await import(
  pathToFileURL(path.resolve(import.meta.dirname, '../../dashboard/navigation.js')).href
)) as NavigationModule;

const transform = (point: [number, number], from: string, to: string) =>
  gcoord.transform(point, from as never, to as never) as [number, number];

const parameters = (url: string) => new URL(url).searchParams;
const pair = (text: string | null) => (text ?? '').split(',').map(Number) as [number, number];

describe('navigation links open the phone’s map app in each provider’s coordinates', () => {
  const wgs: [number, number] = [116.304342, 39.930992];
  const gcj = gcoord.transform(wgs, gcoord.WGS84, gcoord.GCJ02) as [number, number];
  const bd = gcoord.transform(wgs, gcoord.WGS84, gcoord.BD09) as [number, number];

  it.each(['WGS84', 'GCJ02'] as const)('from a %s configuration', (coordinates) => {
    const location = coordinates === 'WGS84' ? wgs : gcj;
    const links = navigationLinks({ name: '西郊1网格南门 & 东侧', location, coordinates }, transform);
    expect(links.map((link) => link.provider)).toEqual(['amap', 'baidu', 'geo']);
    const [amap, baidu, geo] = links.map((link) => link.url) as [string, string, string];

    expect(amap.startsWith('https://uri.amap.com/marker?')).toBe(true);
    const a = parameters(amap);
    const [aLon, aLat] = pair(a.get('position'));
    expect(aLon).toBeCloseTo(gcj[0], 5);
    expect(aLat).toBeCloseTo(gcj[1], 5);
    expect(a.get('coordinate')).toBe('gaode');
    expect(a.get('callnative')).toBe('1');
    expect(a.get('name')).toBe('西郊1网格南门 & 东侧');

    expect(baidu.startsWith('https://api.map.baidu.com/marker?')).toBe(true);
    const b = parameters(baidu);
    // Baidu puts latitude first.
    const [bLat, bLon] = pair(b.get('location'));
    expect(bLat).toBeCloseTo(bd[1], 5);
    expect(bLon).toBeCloseTo(bd[0], 5);
    expect(b.get('coord_type')).toBe('bd09ll');
    expect(b.get('output')).toBe('html');
    expect(b.get('src')).toMatch(/^webapp\./);

    const match = /^geo:([\d.-]+),([\d.-]+)\?q=([\d.-]+),([\d.-]+)\((.+)\)$/.exec(geo);
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).toBeCloseTo(wgs[1], 5);
    expect(Number(match?.[2])).toBeCloseTo(wgs[0], 5);
    expect(decodeURIComponent(match?.[5] ?? '')).toBe('西郊1网格南门 & 东侧');
  });

  it('offers no link for a device without a location, and the GCJ-02 offset is real (hundreds of metres)', () => {
    expect(navigationLinks({ name: 'x', coordinates: 'WGS84' }, transform)).toEqual([]);
    expect(Math.abs(gcj[0] - wgs[0]) + Math.abs(gcj[1] - wgs[1])).toBeGreaterThan(0.003);
  });
});

describe('the worker’s tasks, most urgent first', () => {
  const now = Date.parse('2026-12-07T08:00:00Z');
  const at = (minutes: number) => new Date(now + minutes * 60_000).toISOString();
  const task = (
    id: string,
    severity: string,
    due: number | null,
    age: number,
    state = 'dispatched',
  ): Task => ({
    id,
    state,
    severity,
    dueAt: due === null ? null : at(due),
    createdAt: at(-age),
  });

  it('orders by severity, then the time left to the deadline (none last), then age; resolved cases last', () => {
    const tasks = [
      task('warning-soon', 'warning', 1, 5),
      task('critical-late', 'critical', 30, 1),
      task('critical-soon', 'critical', 5, 1),
      task('critical-overdue', 'critical', -3, 1),
      task('major-none', 'major', null, 50),
      task('major-none-older', 'major', null, 60),
      task('major-due', 'major', 40, 2),
      task('critical-resolved', 'critical', null, 90, 'resolved'),
    ];
    expect(tasks.sort((a, b) => byUrgency(a, b, now)).map((entry) => entry.id)).toEqual([
      'critical-overdue',
      'critical-soon',
      'critical-late',
      'major-due',
      'major-none-older',
      'major-none',
      'warning-soon',
      'critical-resolved',
    ]);
  });
});
