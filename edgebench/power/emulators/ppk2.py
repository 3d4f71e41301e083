"""A Nordic PPK2: metadata on 0x19, 100 kSa/s 4-byte sample words after 0x06, silence after 0x07.

Calibration values are those of a real unit's metadata dump (R, GS, GI, O, UG and the range-0/4
S and I values); S1-S3 and I1-I3, which the dump elides, are synthetic small offsets. Currents are
encoded by inverting the same conversion the source uses (smallest range that fits, 14-bit ADC,
dithered so the mean is unbiased). ``drop_every=N`` skips every Nth sample's word (the counter
still advances), exercising lost-sample accounting.
"""
import numpy as np

from edgebench.power.emulators.base import PtyEmulator

RATE_HZ = 100000
CHUNK_LIMIT = 20000  # samples per tick at most (200 ms)
ADC_SCALE = 1.8 / 163840.0
R = (1003.3506, 101.5865, 10.3027, 0.9636, 0.0564)
GS = (0.0, 112.7890, 18.0115, 2.4217, 0.0729)
GI = (1.0, 0.9695, 0.9609, 0.9519, 0.9582)
O = (112.9420, 75.4627, 64.6020, 50.4983, 87.2177)  # noqa: E741
S = (0.000000048, 0.000000711, 0.000006920, 0.000071245, 0.002940743)
I = (-0.000000104, -0.000001235, -0.000012520, -0.000121660, -0.009388455)  # noqa: E741
UG = (1.0, 1.0, 1.0, 1.0, 1.0)
ADC_LIMIT = 60000.0  # stay below the 14-bit full scale (65532 after x4)


def metadata_text(vdd_mv, mode=2):
    lines = ["Calibrated: 0"]
    for key, values, fmt in (("R", R, "{:.4f}"), ("GS", GS, "{:.4f}"), ("GI", GI, "{:.4f}"), ("O", O, "{:.4f}")):
        lines.extend("{}{}: {}".format(key, k, fmt.format(v)) for k, v in enumerate(values))
    lines.append("VDD: {}".format(int(vdd_mv)))
    lines.append("HW: 9173")
    lines.append("mode: {}".format(mode))
    for key, values in (("S", S), ("I", I)):
        lines.extend("{}{}: {:.9f}".format(key, k, v) for k, v in enumerate(values))
    lines.extend("UG{}: {:.2f}".format(k, v) for k, v in enumerate(UG))
    lines.append("IA: 56")
    lines.append("END")
    return ("\n".join(lines) + "\n").encode("ascii")


def encode_current(amps, vdd_mv, rng_state):
    """(raw14, range) arrays for currents in amps, inverting the PPK2 conversion."""
    amps = np.asarray(amps, dtype=float)
    raw = np.zeros(amps.shape, dtype=np.int64)
    ranges = np.full(amps.shape, 4, dtype=np.int64)
    assigned = np.zeros(amps.shape, dtype=bool)
    dither = rng_state.uniform(-0.5, 0.5, size=amps.shape)
    for r in range(5):
        y = amps / UG[r] - (S[r] * vdd_mv / 1000.0 + I[r])
        if GS[r]:
            rwg = (-GI[r] + np.sqrt(np.maximum(GI[r] ** 2 + 4.0 * GS[r] * y, 0.0))) / (2.0 * GS[r])
        else:
            rwg = y / GI[r]
        adc = rwg * R[r] / ADC_SCALE + O[r]
        fits = (adc >= 0) & (adc <= ADC_LIMIT) & ~assigned
        if r == 4:
            fits = ~assigned
        raw14 = np.clip(np.floor(adc / 4.0 + 0.5 + dither), 0, 0x3FFF).astype(np.int64)
        raw[fits] = raw14[fits]
        ranges[fits] = r
        assigned |= fits
    return raw, ranges


def pack_words(raw, ranges, counters, logic=0):
    words = (raw & 0x3FFF) | ((ranges & 0x7) << 14) | ((counters & 0x3F) << 18) | ((logic & 0xFF) << 24)
    return words.astype("<u4").tobytes()


class Ppk2Emulator(PtyEmulator):
    protocol = "ppk2"

    def __init__(self, vdd_mv=3300, mode=2, drop_every=0, watts=0.1, **kw):
        PtyEmulator.__init__(self, watts=watts, **kw)
        self.vdd_mv = float(vdd_mv)
        self.mode = int(mode)
        self.drop_every = int(drop_every)
        self._rng = np.random.RandomState(self.seed)

    def reset(self):
        self.streaming = False
        self.index = 0
        self.stream_t0 = None
        self.sent_samples = 0
        self.dropped_samples = 0
        self.commands = []
        self._pending = b""

    def on_input(self, data):
        data = self._pending + data
        i = 0
        while i < len(data):
            cmd = data[i]
            need = {0x0D: 3, 0x11: 2, 0x0C: 2, 0x25: 6}.get(cmd, 1)
            if i + need > len(data):
                break
            args = data[i + 1:i + need]
            i += need
            self.commands.append(cmd)
            if cmd == 0x19:
                self.send(metadata_text(self.vdd_mv, self.mode))
            elif cmd == 0x06:
                self.streaming = True
                self.stream_t0 = self.now_s()
                self.index = 0
            elif cmd == 0x07:
                self.streaming = False
            elif cmd == 0x0D:
                self.vdd_mv = float((args[0] << 8) | args[1])
            elif cmd == 0x11:
                self.mode = int(args[0])
        self._pending = data[i:]

    def tick(self):
        if not self.streaming:
            return
        due = int((self.now_s() - self.stream_t0) * RATE_HZ)
        count = min(due - self.index, CHUNK_LIMIT)
        if count <= 0:
            return
        idx = np.arange(self.index, self.index + count)
        self.index += count
        t_s = self.stream_t0 + idx / float(RATE_HZ)
        supply_v = self.vdd_mv / 1000.0
        amps = self.waveform.power_w(t_s) / supply_v
        raw, ranges = encode_current(amps, self.vdd_mv, self._rng)
        counters = idx % 64
        keep = np.ones(count, dtype=bool)
        if self.drop_every:
            keep = (idx % self.drop_every) != self.drop_every - 1
            self.dropped_samples += int(np.sum(~keep))
        payload = pack_words(raw[keep], ranges[keep], counters[keep])
        written = self.send(payload)
        self.sent_samples += written // 4
