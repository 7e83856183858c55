// A minimal live feed: the incidents this token may see, newest first. The full console is /officer.
const feed = document.getElementById('feed');
const status = document.getElementById('status');
let socket;
function show(incident) {
  const item = document.createElement('li');
  item.dataset.severity = incident.severity;
  const title = document.createElement('strong');
  title.textContent = `${incident.title} · ${incident.chain[0].name}`;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `${incident.severity} · ${incident.device.name} · ${new Date(incident.createdAt).toLocaleString()}`;
  item.append(title, meta);
  feed.prepend(item);
}
async function connect() {
  const token = document.getElementById('token').value.trim();
  socket?.close();
  feed.replaceChildren();
  const response = await fetch('/api/incidents?limit=50', { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) {
    status.textContent = (await response.json()).error.message;
    return;
  }
  for (const incident of (await response.json()).incidents.reverse()) show(incident);
  socket = io({ auth: { token } });
  socket.on('connect', () => {
    status.textContent = 'live';
  });
  socket.on('disconnect', () => {
    status.textContent = 'reconnecting…';
  });
  socket.on('connect_error', (error) => {
    status.textContent = error.message;
  });
  socket.on('incident:new', show);
}
document.getElementById('connect').addEventListener('click', connect);
