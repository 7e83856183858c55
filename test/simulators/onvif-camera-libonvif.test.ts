import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * The ONVIF camera simulator read by Debian's `onvif-tools`: `onvif-util`, the command-line client of libonvif
 * (C, libxml2), a client this project did not write. Installed by `.ci/run` (`apt-get install onvif-tools`).
 *
 * onvif-util 1.4.4 (Debian bookworm) cannot be given an address and port: it multicasts a WS-Discovery Probe to
 * 239.255.255.250:3702 and logs in to the camera whose XAddr host is the one named on its command line. Its probe
 * turns multicast loopback off and goes out of the default route, so it never reaches a camera on this machine,
 * and must not reach the network. So the camera and onvif-util run together in a network namespace of their own
 * (`unshare --user --net`, no root needed) whose only interface is loopback, with multicast routed there: the
 * probe stays on that loopback, reaches the simulator's discovery responder on 3702, and nothing leaves the box.
 *
 * libonvif sets its WS-Security nonce from `srand(time(NULL))` on every request, so all its requests within one
 * second carry the same nonce and only Created's milliseconds tell them apart; against a camera that answers in
 * under a millisecond two requests can repeat both, and the camera refuses the second as a replay (as it should).
 * A real camera takes milliseconds to answer, and so does this one here (`--answer-delay-ms 3`).
 */

const USER = 'admin';
/** No URL-special characters: onvif-util's `get rtsp pass` pastes the password into the URI unescaped. */
const PASSWORD = 'Libonvif2025';

/** Runs in the namespace: loopback up with multicast, the simulator CLI, onvif-util twice, ffmpeg once. */
const SCRIPT = String.raw`
set -u
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
work=$(mktemp -d)
node --import tsx simulators/onvif-camera/cli.ts --base-port 0 --user "$USER_NAME" --password "$PASSWORD" \
  --rtsp --answer-delay-ms 3 > "$work/sim" 2>&1 &
sim=$!
for i in $(seq 1 300); do grep -q 'camera(s) up' "$work/sim" && break; sleep 0.1; done
echo "=== sim"; cat "$work/sim"
echo "=== util"
printf 'get rtsp pass\nget profiles\nget video\nget video options\nget network\nget time\nquit\n' \
  | timeout 60 onvif-util -u "$USER_NAME" -p "$PASSWORD" 127.0.0.1 2>&1
echo "=== util-status $?"
echo "=== wrong"
printf 'quit\n' | timeout 60 onvif-util -u "$USER_NAME" -p not-the-password 127.0.0.1 2>&1
echo "=== wrong-status $?"
kill -INT $sim; wait $sim
echo "=== sim-status $?"
`;

/** The same namespace again, with a stream read by ffmpeg at the URI onvif-util got from the camera. */
const STREAM_SCRIPT = String.raw`
set -u
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
work=$(mktemp -d)
node --import tsx simulators/onvif-camera/cli.ts --base-port 0 --user "$USER_NAME" --password "$PASSWORD" \
  --rtsp --answer-delay-ms 3 > "$work/sim" 2>&1 &
sim=$!
for i in $(seq 1 300); do grep -q 'camera(s) up' "$work/sim" && break; sleep 0.1; done
printf 'get rtsp pass\nquit\n' | timeout 60 onvif-util -u "$USER_NAME" -p "$PASSWORD" 127.0.0.1 > "$work/util" 2>&1
uri=$(grep -o 'rtsp://[^ ]*' "$work/util" | head -1)
printf '=== uri\n%s\n' "$uri"
echo "=== ffmpeg"
timeout 60 ffmpeg -hide_banner -nostdin -rtsp_transport tcp -i "$uri" -frames:v 3 -f null - > "$work/ffmpeg" 2>&1
status=$?
grep -E 'Stream #0:0|401|rror' "$work/ffmpeg"
echo "=== ffmpeg-status $status"
kill -INT $sim; wait $sim
`;

function inNamespace(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'bash', '-c', script], {
      env: { ...process.env, USER_NAME: USER, PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** One `=== name` section of the script's output: what follows its header (on the same line or below it). */
function section(output: string, name: string): string {
  const header = new RegExp(`^=== ${name}(?: |$)`, 'm').exec(output);
  if (header === null) throw new Error(`no section ${name} in:\n${output}`);
  const rest = output.slice(header.index + header[0].length);
  const end = rest.search(/^=== /m);
  return end < 0 ? rest : rest.slice(0, end);
}

describe("Debian's onvif-tools (libonvif's onvif-util) reading the simulator", () => {
  it('finds the camera by WS-Discovery, logs in, and reads device information, profiles, encoder options, network, time and the stream URI', async () => {
    const { code, output } = await inNamespace(SCRIPT);
    expect(code, output).toBe(0);
    const sim = section(output, 'sim');
    const streamUrl = /stream (rtsp:\/\/\S+)/.exec(sim)?.[1] ?? '';
    expect(streamUrl).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/stream$/);

    const util = section(output, 'util');
    expect(util).toContain('found host: 127.0.0.1');
    expect(util).toContain('successfully connected to host');
    // onvif-util prints the camera name as `<name scope> <hardware scope>` and the serial from GetDeviceInformation.
    expect(util).toMatch(/name:\s+Grid-Camera-1 GS-IPC-T2/);
    expect(util).toMatch(/serial:\s+GS20250001/);
    expect(util).toContain('Token 0: Profile_1');
    expect(util).toContain(streamUrl.replace('rtsp://', `rtsp://${USER}:${PASSWORD}@`));
    expect(util).toMatch(/Resolution: 640 x 360\s+Frame Rate: 10\s+Gov Length: 10\s+Bit Rate:\s+1024/);
    expect(util).toMatch(/Available Resolutions\s+640 x 360/);
    expect(util).toMatch(/Max Bit Rate: 4096/);
    expect(util).toMatch(/IP Address: 127\.0\.0\.1/);
    expect(util).toMatch(/DNS:\s+223\.5\.5\.5/);
    expect(util).toMatch(/DHCP:\s+NO/);
    expect(util).toMatch(/Timezone:\s+CST-8/);
    expect(util).toMatch(/NTP Server:\s+ntp\.aliyun\.com/);
    expect(util).not.toContain('ERROR');
    expect(section(output, 'util-status').trim()).toBe('0');

    // A wrong password: libonvif reads the fault's subcode and gives up.
    const wrong = section(output, 'wrong');
    expect(wrong).toContain('found host: 127.0.0.1');
    expect(wrong).toContain('ERROR: get device information - ter:NotAuthorized');
    expect(section(output, 'wrong-status').trim()).toBe('1');
    expect(section(output, 'sim-status').trim()).toBe('0');
  }, 90_000);

  it('hands out a stream URI that ffmpeg plays over RTSP/TCP with the credentials onvif-util put in it', async () => {
    const { output } = await inNamespace(STREAM_SCRIPT);
    expect(section(output, 'uri').trim()).toMatch(
      new RegExp(`^rtsp://${USER}:${PASSWORD}@127\\.0\\.0\\.1:\\d+/stream$`),
    );
    const ffmpeg = section(output, 'ffmpeg');
    expect(ffmpeg).toMatch(/Stream #0:0: Video: h264/);
    expect(ffmpeg).not.toContain('401');
    expect(section(output, 'ffmpeg-status').trim()).toBe('0');
  }, 90_000);
});
