"""A PowerSensor3: configuration on ``R``, sensor sets on ``S``, stop on ``T``, stop word on ``X``.

Pair 0 is in use: sensor 0 is a current sensor (vref 1.65 V, 0.2 V/A), sensor 1 a voltage sensor
(gain 0.2, so ``voltage_v`` 12 V reads 2.4 V at the ADC). Levels are dithered before 10-bit
rounding so their mean is unbiased. Each set is a timestamp word (10-bit microseconds) and the 8
sensor words. ``drop_byte_every=N`` drops one byte of every Nth set to exercise resync.
"""
import numpy as np

from edgebench.power.emulators.base import PtyEmulator
from edgebench.power.powersensor3 import ADC_VOLTAGE, MAX_LEVEL, MAX_SENSORS, SensorConfig

CHUNK_LIMIT = 4000


def default_config(voltage_v):
    sensors = [
        SensorConfig("ACS712-5", "board", 1.65, 0.2, True),
        SensorConfig("voltage", "board", 0.0, 0.2, True),
    ]
    sensors += [SensorConfig("", "", 0.0, 1.0, False) for _ in range(MAX_SENSORS - 2)]
    return sensors


def level_for(value, vref, sensitivity):
    return (value * sensitivity + vref) * MAX_LEVEL / ADC_VOLTAGE


class PowerSensor3Emulator(PtyEmulator):
    protocol = "powersensor3"

    def __init__(self, rate_hz=20000.0, voltage_v=12.0, drop_byte_every=0, watts=10.0, **kw):
        PtyEmulator.__init__(self, watts=watts, **kw)
        self.rate_hz = float(rate_hz)
        self.voltage_v = float(voltage_v)
        self.drop_byte_every = int(drop_byte_every)
        self.sensors = default_config(self.voltage_v)
        self._rng = np.random.RandomState(self.seed)

    def reset(self):
        self.streaming = False
        self.index = 0
        self.stream_t0 = None
        self.config_left = 0
        self.commands = []

    def _send_record(self):
        sensor = self.sensors[MAX_SENSORS - self.config_left]
        self.config_left -= 1
        self.send(sensor.pack())

    def on_input(self, data):
        for byte in data:
            char = chr(byte)
            if self.config_left:
                # the host acknowledges each record with any byte; 'D' follows the last one
                self._send_record()
                if not self.config_left:
                    self.send(b"D")
                continue
            self.commands.append(char)
            if char == "R":
                self.streaming = False
                self.config_left = MAX_SENSORS
                self._send_record()
            elif char == "S":
                self.streaming = True
                self.stream_t0 = self.now_s()
                self.index = 0
            elif char == "T":
                self.streaming = False
            elif char == "X":
                self.streaming = False
                self.send(b"\xff\x3f")

    def tick(self):
        if not self.streaming:
            return
        due = int((self.now_s() - self.stream_t0) * self.rate_hz)
        count = min(due - self.index, CHUNK_LIMIT)
        if count <= 0:
            return
        idx = np.arange(self.index, self.index + count)
        self.index += count
        t_s = idx / self.rate_hz
        watts = self.waveform.power_w(self.stream_t0 + t_s)
        amps = watts / self.voltage_v
        cur, volt = self.sensors[0], self.sensors[1]
        dither = self._rng.uniform(-0.5, 0.5, size=(count, 2))
        levels = np.zeros((count, MAX_SENSORS), dtype=np.int64)
        levels[:, 0] = np.floor(level_for(amps, cur.vref, cur.sensitivity) + 0.5 + dither[:, 0])
        levels[:, 1] = np.floor(level_for(self.voltage_v, volt.vref, volt.sensitivity) + 0.5 + dither[:, 1])
        levels = np.clip(levels, 0, 1023)
        stamp = (np.floor(t_s * 1e6).astype(np.int64)) % 1024
        words = np.zeros((count, 1 + MAX_SENSORS, 2), dtype=np.uint8)
        words[:, 0, 0] = 0x80 | (7 << 4) | ((stamp >> 6) & 0xF)
        words[:, 0, 1] = 0x40 | (stamp & 0x3F)
        sensor_ids = np.arange(MAX_SENSORS)
        words[:, 1:, 0] = 0x80 | (sensor_ids[None, :] << 4) | ((levels >> 6) & 0xF)
        words[:, 1:, 1] = levels & 0x3F
        payload = words.reshape(count, -1)
        if self.drop_byte_every:
            chunks = []
            for k, row in zip(idx.tolist(), payload):
                row = row.tobytes()
                chunks.append(row[:5] + row[6:] if k % self.drop_byte_every == self.drop_byte_every - 1 else row)
            self.send(b"".join(chunks))
        else:
            self.send(payload.tobytes())
