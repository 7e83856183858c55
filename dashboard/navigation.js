// Where a task is and which comes first: navigation links for its place, each opening the phone's map app at the device (#24 field work). Each
// provider's documented marker URI, in the coordinate system it reads:
// - AMap (高德) uri.amap.com/marker: position=lon,lat, name, src, coordinate=gaode (GCJ-02), callnative=1 to open the
//   app on a phone (lbs.amap.com/api/uri-api/guide/mobile-web/point).
// - Baidu (百度) api.map.baidu.com/marker: location=lat,lng (latitude first), title, content, output=html, src,
//   coord_type=bd09ll (Baidu's own; the conversion is done here rather than left to Baidu)
//   (lbsyun.baidu.com/index.php?title=uri/api/web).
// - geo: (RFC 5870), WGS84, `?q=lat,lon(label)` for Android's map apps to drop a labelled pin.
// Tianditu (天地图) documents no URI for opening its app at a point, so it has no link.
// Pure: the conversion is passed in (gcoord's transform in the page, the same in the unit test).

const round = (value) => Math.round(value * 1e6) / 1e6;

/**
 * @param place `{ name, location: [lon, lat], coordinates: 'WGS84' | 'GCJ02' }` (the config's system)
 * @param transform `(point, from, to) => point` over 'WGS84', 'GCJ02', 'BD09'
 * @returns `[{ provider, url }]`; none when the place has no location
 */
export function navigationLinks({ name, location, coordinates }, transform) {
  if (!location) return [];
  const from = coordinates === 'GCJ02' ? 'GCJ02' : 'WGS84';
  const as = (to) => {
    const [lon, lat] = from === to ? location : transform([location[0], location[1]], from, to);
    return { lon: round(lon), lat: round(lat) };
  };
  const gcj = as('GCJ02');
  const bd = as('BD09');
  const wgs = as('WGS84');
  const label = encodeURIComponent(name);
  return [
    {
      provider: 'amap',
      url: `https://uri.amap.com/marker?position=${gcj.lon},${gcj.lat}&name=${label}&src=gridhub&coordinate=gaode&callnative=1`,
    },
    {
      provider: 'baidu',
      url: `https://api.map.baidu.com/marker?location=${bd.lat},${bd.lon}&title=${label}&content=${label}&output=html&coord_type=bd09ll&src=webapp.gridhub.worker`,
    },
    { provider: 'geo', url: `geo:${wgs.lat},${wgs.lon}?q=${wgs.lat},${wgs.lon}(${label})` },
  ];
}

const severityRank = { critical: 0, major: 1, warning: 2, info: 3 };

/**
 * The worker's tasks, the most urgent first: by severity, then by the time left to the current deadline (none last),
 * then the oldest. Cases awaiting verification come after every open one: nothing is left to do on them but add
 * photos. A comparator for Array.prototype.sort.
 */
export function byUrgency(a, b, now = Date.now()) {
  const waiting = (incident) => (incident.state === 'resolved' ? 1 : 0);
  const left = (incident) => (incident.dueAt ? Date.parse(incident.dueAt) - now : Number.POSITIVE_INFINITY);
  const rank = (incident) => severityRank[incident.severity] ?? 4;
  return (
    waiting(a) - waiting(b) ||
    rank(a) - rank(b) ||
    (left(a) === left(b) ? 0 : left(a) < left(b) ? -1 : 1) ||
    Date.parse(a.createdAt) - Date.parse(b.createdAt)
  );
}
