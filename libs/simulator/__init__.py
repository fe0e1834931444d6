"""A reusable charger simulator: real OCPP 1.6J / 2.0.1 charge points (the `ocpp` package) over
real WebSockets, one or thousands, with realistic sessions. Used by `voltstream simulate`, the
end-to-end tests and the benchmarks."""
