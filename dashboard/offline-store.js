// What the worker's phone keeps for when it cannot reach the hub, in IndexedDB (one database per origin): each
// user's last task list, and the actions waiting to be sent (outbox.js). Everything of a user goes at logout.

const databaseName = 'gridhub-worker';
const version = 1;

let opening;
/** The database, opened once: `tasks` by user id, `outbox` in the order actions were taken (an auto-increment key). */
function database() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(databaseName, version);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('tasks')) db.createObjectStore('tasks');
      if (!db.objectStoreNames.contains('outbox')) {
        const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        outbox.createIndex('userId', 'userId');
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

/** One transaction on one store; resolves with what `work` answers once the transaction has committed. */
async function transaction(storeName, mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    let answer;
    const request = work(tx.objectStore(storeName));
    if (request !== undefined)
      request.onsuccess = () => {
        answer = request.result;
      };
    tx.oncomplete = () => resolve(answer);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** The user's open tasks as last read from the hub, and when. */
export function saveTasks(userId, tasks) {
  return transaction('tasks', 'readwrite', (store) =>
    store.put({ tasks, savedAt: new Date().toISOString() }, userId),
  );
}

/** `{tasks, savedAt}`, or undefined when this phone never kept any for the user. */
export function loadTasks(userId) {
  return transaction('tasks', 'readonly', (store) => store.get(userId));
}

/** A queued action; answers it with its `seq`, the order it was taken in. */
export async function addAction(entry) {
  const seq = await transaction('outbox', 'readwrite', (store) => store.add(entry));
  return { ...entry, seq };
}

export function updateAction(entry) {
  return transaction('outbox', 'readwrite', (store) => store.put(entry));
}

export function removeAction(seq) {
  return transaction('outbox', 'readwrite', (store) => store.delete(seq));
}

/** The user's queued actions, oldest first. */
export async function actionsOf(userId) {
  const all = await transaction('outbox', 'readonly', (store) => store.index('userId').getAll(userId));
  return (all ?? []).sort((a, b) => a.seq - b.seq);
}

/** Logging out: the phone keeps nothing of the user (their tasks, their unsent actions). */
export async function forgetUser(userId) {
  await transaction('tasks', 'readwrite', (store) => store.delete(userId));
  for (const entry of await actionsOf(userId)) await removeAction(entry.seq);
}
