// The phone side of Web Push: a button 开启通知 once logged in. It asks the browser's permission, subscribes with
// the hub's VAPID key (GET /api/push/key) and hands the subscription to the hub (POST /api/push/subscriptions);
// logging out withdraws it (DELETE /api/push/subscriptions). The notifications themselves are shown by sw.js.
import { api, el } from './common.js';
import { t } from './i18n.js';

/** A base64url VAPID key as the bytes PushManager.subscribe wants. */
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

const supported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function registration() {
  return navigator.serviceWorker.ready;
}

/** Subscribes this phone and tells the hub; resolves with the state to show: on, denied or failed. */
async function enable() {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const { publicKey } = await api.get('/api/push/key');
  const worker = await registration();
  const existing = await worker.pushManager.getSubscription();
  const subscription =
    existing ??
    (await worker.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    }));
  await api.post('/api/push/subscriptions', subscription.toJSON());
  return 'on';
}

/**
 * The header's button: hidden where the browser cannot push, 已开启通知 once subscribed, 通知已被禁止 when the
 * permission was refused (only the browser's settings can undo that).
 */
export function pushButton() {
  const button = el('button', { type: 'button', id: 'push', class: 'small', hidden: !supported() });
  const show = (state) => {
    button.dataset.push = state;
    button.textContent = t(`push.${state}`);
    button.disabled = state === 'on' || state === 'denied' || state === 'working';
  };
  show('off');
  if (!supported()) return button;
  if (Notification.permission === 'denied') show('denied');
  else
    registration()
      .then((worker) => worker.pushManager.getSubscription())
      .then((subscription) => {
        if (subscription !== null && Notification.permission === 'granted') show('on');
      })
      .catch(() => undefined);
  button.addEventListener('click', async () => {
    show('working');
    try {
      show(await enable());
    } catch (error) {
      show('failed');
      button.disabled = false;
      button.title = error.message;
    }
  });
  return button;
}

/** At logout: the hub stops pushing to this phone, and the browser drops the subscription. */
export async function withdrawPush() {
  if (!supported()) return;
  // getRegistration, not ready: with no service worker registered, ready never settles.
  const worker = await navigator.serviceWorker.getRegistration('/dashboard/').catch(() => undefined);
  const subscription = (await worker?.pushManager.getSubscription().catch(() => null)) ?? null;
  if (subscription === null) return;
  await api.del('/api/push/subscriptions', { endpoint: subscription.endpoint }).catch(() => undefined);
  await subscription.unsubscribe().catch(() => undefined);
}
