#!/usr/bin/env python3
"""Opens connections to 127.0.0.1:<port> at <rate> per second for <seconds> seconds, each from a new loopback source
address (127.20.0.1, 127.20.0.2, ...: many "hosts"), sends what a libp2p dialler sends first up to the Noise
proposal (the multistream header and "/noise") and then stays silent until the agent closes it or 5 s pass.
Prints one summary line. Bounded in count (rate x seconds) and time."""
import asyncio
import sys


def frame(text):
    data = text.encode() + b"\n"
    return bytes([len(data)]) + data


OPENING = frame("/multistream/1.0.0") + frame("/noise")


async def one(port, n, counts):
    source = "127.%d.%d.%d" % (20 + (n >> 16) % 200, (n >> 8) & 0xFF, 1 + n % 254)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 2)
    except (OSError, asyncio.TimeoutError):
        counts["failed"] += 1
        return
    counts["made"] += 1
    writer.write(OPENING)
    try:
        while await asyncio.wait_for(reader.read(4096), 5):
            pass
        counts["closed by the agent"] += 1
    except (asyncio.TimeoutError, ConnectionError):
        pass
    writer.close()


async def main():
    port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    counts = {"made": 0, "failed": 0, "closed by the agent": 0}
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    total = int(rate * seconds)
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        tasks.append(asyncio.create_task(one(port, n, counts)))
    await asyncio.gather(*tasks)
    print("flood: %d connections at %g/s from %d addresses: %s" % (total, rate, total, counts), flush=True)


asyncio.run(main())
