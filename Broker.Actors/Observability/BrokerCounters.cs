using System.Diagnostics.Metrics;

namespace Broker.Actors.Observability;

/// <summary>
/// Running totals of the broker's message instruments in this process (publishes, deliveries,
/// frames in and out, active rooms), summed by one <see cref="MeterListener"/>: what the console's
/// rates are computed from. One per host (a listener costs a callback on every measurement). The
/// meter is process-wide, so several nodes in one process (tests) share the same totals.
/// </summary>
public sealed class BrokerCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _publishes, _deliveries, _framesIn, _framesOut, _rooms;

    public BrokerCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BrokerMetrics.MeterName && IsCounted(instrument.Name))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "broker_publishes_total": Interlocked.Add(ref _publishes, value); break;
                case "broker_deliveries_total": Interlocked.Add(ref _deliveries, value); break;
                case "broker_frames_in_total": Interlocked.Add(ref _framesIn, value); break;
                case "broker_frames_out_total": Interlocked.Add(ref _framesOut, value); break;
                case "broker_rooms_active": Interlocked.Add(ref _rooms, value); break;
            }
        });
        _listener.Start();
    }

    /// <summary>Messages published to rooms, routes and users since this started.</summary>
    public long Publishes => Interlocked.Read(ref _publishes);

    /// <summary>Message frames queued to sockets since this started.</summary>
    public long Deliveries => Interlocked.Read(ref _deliveries);

    /// <summary>Frames read from clients since this started.</summary>
    public long FramesIn => Interlocked.Read(ref _framesIn);

    /// <summary>Frames written to clients since this started.</summary>
    public long FramesOut => Interlocked.Read(ref _framesOut);

    /// <summary>Room entities alive now (those that started after this did).</summary>
    public long RoomsActive => Interlocked.Read(ref _rooms);

    private static bool IsCounted(string name) => name is "broker_publishes_total" or "broker_deliveries_total"
        or "broker_frames_in_total" or "broker_frames_out_total" or "broker_rooms_active";

    public void Dispose() => _listener.Dispose();
}
