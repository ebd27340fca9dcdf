using System.Diagnostics.Metrics;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using AnalyticsEngine.Governance;
using AnalyticsEngine.ServiceDefaults;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>
/// Writes audit entries in the background, in batches of up to <see cref="MaxBatch"/> per grain call, in the order
/// requests ended: a request's connection never waits for its entry, and a burst costs a few round trips. A batch that
/// fails is written again entry by entry. Entries wait in a queue of <see cref="Capacity"/>; one that finds it full,
/// or whose write fails twice, is logged with its action, path, actor and status and counted
/// (<c>ae.audit.write_failures</c>): the change it describes has happened, so it is not undone. On shutdown the queue
/// is closed and written out before the gateway stops.
/// </summary>
public sealed partial class AuditWriter(IClusterClient cluster, ILogger<AuditWriter> logger) : BackgroundService
{
    public const int Capacity = 5_000;
    public const int MaxBatch = 500;

    /// <summary>A batch ends past this many characters of paths and bodies, so one grain call stays a few MB.</summary>
    public const int MaxBatchChars = 2_000_000;

    private static readonly Meter Meter = new(Telemetry.MeterName);
    private static readonly Counter<long> WriteFailures =
        Meter.CreateCounter<long>("ae.audit.write_failures", "{entry}", "Audit entries that could not be written");
    private static readonly Counter<long> RefusalsNotRecorded =
        Meter.CreateCounter<long>("ae.audit.refusals_not_recorded", "{request}", "Refused requests past an actor's recorded refusals a minute");

    private readonly PartitionedRateLimiter<string> _refusals = PartitionedRateLimiter.Create<string, string>(actor =>
        RateLimitPartition.GetFixedWindowLimiter(actor, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = AuditTrail.RefusalsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    private readonly Channel<AuditEntry> _queue = Channel.CreateBounded<AuditEntry>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public void Write(AuditEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            // Full, or closed because the gateway is stopping and has written out its queue.
            Failed(null, [entry]);
        }
    }

    /// <summary>
    /// Whether a refusal of <paramref name="actor"/> the rate limiter does not meter may be recorded: at most
    /// <see cref="AuditTrail.RefusalsPerMinute"/> a minute; the rest are counted.
    /// </summary>
    public bool TryRecordRefusal(string actor)
    {
        using var lease = _refusals.AttemptAcquire(actor);
        if (!lease.IsAcquired)
        {
            RefusalsNotRecorded.Add(1);
        }

        return lease.IsAcquired;
    }

    public override void Dispose()
    {
        _refusals.Dispose();
        base.Dispose();
    }

    /// <summary>Closes the queue, so that what is in it is written out and what comes after is logged as not written.</summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<AuditEntry>(MaxBatch);
        // Until the queue is closed and empty: stopping ends the intake (StopAsync), not the writing of what is queued.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            var chars = 0L;
            while (batch.Count < MaxBatch && chars < MaxBatchChars && _queue.Reader.TryRead(out var entry))
            {
                batch.Add(entry);
                chars += entry.Path.Length + (entry.Body?.Length ?? 0);
            }

            await WriteAsync(batch);
        }
    }

    /// <summary>Writes the batch in one transaction; if that fails, each entry alone, so one that cannot be stored loses only itself.</summary>
    private async Task WriteAsync(List<AuditEntry> batch)
    {
        var audit = cluster.GetGrain<IAuditGrain>(0);
        try
        {
            await audit.Record([.. batch]);
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException && batch.Count == 1)
        {
            Failed(e, batch);
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogBatchRetried(e, batch.Count);
        }

        foreach (var entry in batch)
        {
            try
            {
                await audit.Record([entry]);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Failed(e, [entry]);
            }
        }
    }

    private void Failed(Exception? exception, IReadOnlyList<AuditEntry> entries)
    {
        WriteFailures.Add(entries.Count);
        foreach (var entry in entries)
        {
            LogWriteFailed(exception, entry.Action, entry.Path, entry.Actor, entry.Status);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} audit entries could not be written; writing them one by one")]
    private partial void LogBatchRetried(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the audit entry of {Action} ({Path}) by '{Actor}', answered {Status}")]
    private partial void LogWriteFailed(Exception? exception, string action, string path, string actor, int status);
}
