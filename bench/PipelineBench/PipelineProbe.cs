using System.Diagnostics.Metrics;

namespace AnalyticsEngine.PipelineBench;

/// <summary>
/// Watches the client grains through the product's own meter (<c>AnalyticsEngine</c>): events applied from
/// the stream or read back from the database, when the last of them was applied, and the
/// <c>ae.kpi.commit_to_applied</c> histogram the client grain records for every live batch it applies.
/// </summary>
public sealed class PipelineProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<double> _latencies = [];
    private readonly List<double> _commits = [];
    private long _applied;
    private long _caughtUp;
    private long _lastAppliedTicks;
    private volatile bool _recordLatency;

    public PipelineProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "AnalyticsEngine"
                && instrument.Name is "ae.kpi.events_applied" or "ae.kpi.events_caught_up" or "ae.kpi.commit_to_applied" or "ae.ingest.commit.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            Interlocked.Add(ref instrument.Name == "ae.kpi.events_applied" ? ref _applied : ref _caughtUp, value);
            Volatile.Write(ref _lastAppliedTicks, DateTimeOffset.UtcNow.UtcTicks);
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (_recordLatency)
            {
                var samples = instrument.Name == "ae.kpi.commit_to_applied" ? _latencies : _commits;
                lock (samples)
                {
                    samples.Add(value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Events applied by client grains, from the stream and from the database, since the process started.</summary>
    public long Applied => Interlocked.Read(ref _applied) + Interlocked.Read(ref _caughtUp);

    public long FromStream => Interlocked.Read(ref _applied);

    public long FromDatabase => Interlocked.Read(ref _caughtUp);

    /// <summary>When a client grain last applied events (wall clock of this process, which hosts the silo).</summary>
    public DateTimeOffset LastAppliedAt => new(Volatile.Read(ref _lastAppliedTicks), TimeSpan.Zero);

    /// <summary>Starts collecting commit-to-applied and commit-duration samples, dropping earlier ones.</summary>
    public void StartLatency()
    {
        lock (_latencies)
        {
            _latencies.Clear();
        }

        lock (_commits)
        {
            _commits.Clear();
        }

        _recordLatency = true;
    }

    /// <summary>Commit-to-applied samples (ms) since <see cref="StartLatency"/>.</summary>
    public List<double> StopLatency()
    {
        _recordLatency = false;
        lock (_latencies)
        {
            return [.. _latencies];
        }
    }

    /// <summary>The ingest grain's commit transaction durations (ms, <c>ae.ingest.commit.duration</c>) since <see cref="StartLatency"/>.</summary>
    public List<double> CommitDurations()
    {
        lock (_commits)
        {
            return [.. _commits];
        }
    }

    /// <summary>Waits until client grains have applied <paramref name="target"/> events in all; false on timeout.</summary>
    public async Task<bool> WaitForAppliedAsync(long target, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (Applied < target)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(5);
        }

        return true;
    }

    public void Dispose() => _listener.Dispose();
}
