"""A minimal faust-streaming app (agent + table with changelog) run by test_faust_runs.py.

Environment: PROBE_BROKER (host:port), PROBE_PREFIX (topic prefix), PROBE_DATA (data dir).
"""

import os

import faust

prefix = os.environ["PROBE_PREFIX"]
app = faust.App(
    f"{prefix}probe",
    broker=f"kafka://{os.environ['PROBE_BROKER']}",
    store="memory://",
    datadir=os.environ["PROBE_DATA"],
    topic_partitions=2,
    topic_replication_factor=1,
    web_enabled=False,
    producer_acks=-1,
)
readings = app.topic(f"{prefix}probe-in", key_type=str, value_type=int)
totals_out = app.topic(f"{prefix}probe-out", key_type=str, value_type=int)
totals = app.Table("totals", default=int, partitions=2)


@app.agent(readings)
async def accumulate(stream):
    async for station, value in stream.items():
        totals[station] += value
        await totals_out.send(key=station, value=totals[station])


if __name__ == "__main__":
    app.main()
