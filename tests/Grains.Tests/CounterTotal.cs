using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Grains.Tests;

/// <summary>
/// The sum of one of the product's counters (meter <c>AnalyticsEngine</c>) measured while this instance lives.
/// Process-wide: test classes running at the same time may add to it, never take from it.
/// </summary>
public sealed class CounterTotal : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public CounterTotal(string instrumentName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "AnalyticsEngine" && instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
