using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// Counts, from the product's own meters, how events reached the client grains: applied from the stream, or
/// read back from the database after a gap or a lost tail. Process-wide: silos of other test collections
/// running at the same time add to it, so it is reported, never asserted.
/// </summary>
public sealed class RecoveryMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _applied;
    private long _caughtUp;

    public RecoveryMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "AnalyticsEngine" && instrument.Name is "ae.kpi.events_applied" or "ae.kpi.events_caught_up")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            Interlocked.Add(ref instrument.Name == "ae.kpi.events_applied" ? ref _applied : ref _caughtUp, value));
        _listener.Start();
    }

    /// <summary>Events applied from stream messages so far (including rows of re-delivered messages).</summary>
    public long FromStream => Interlocked.Read(ref _applied);

    /// <summary>Events read back from the database so far (activation catch-up, gaps, lost tails).</summary>
    public long FromDatabase => Interlocked.Read(ref _caughtUp);

    public void Dispose() => _listener.Dispose();
}
