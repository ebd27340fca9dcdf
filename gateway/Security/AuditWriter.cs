using System.Diagnostics.Metrics;
using System.Threading.Channels;
using AnalyticsEngine.Governance;
using AnalyticsEngine.ServiceDefaults;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>
/// Writes audit entries in the background, in batches of up to <see cref="MaxBatch"/> per grain call, in the order
/// requests ended: a request's connection never waits for its entry, and a burst costs a few round trips. Entries wait
/// in a queue of <see cref="Capacity"/>; one that finds it full, or whose write fails, is logged with its action, path,
/// actor and status and counted (<c>ae.audit.write_failures</c>): the change it describes has happened, so it is not
/// undone. On shutdown the queue is written out before the gateway stops.
/// </summary>
public sealed partial class AuditWriter(IClusterClient cluster, ILogger<AuditWriter> logger) : BackgroundService
{
    public const int Capacity = 10_000;
    public const int MaxBatch = 500;

    private static readonly Meter Meter = new(Telemetry.MeterName);
    private static readonly Counter<long> WriteFailures =
        Meter.CreateCounter<long>("ae.audit.write_failures", "{entry}", "Audit entries that could not be written");
    private static readonly Counter<long> RefusalsNotRecorded =
        Meter.CreateCounter<long>("ae.audit.refusals_not_recorded", "{request}", "Refused requests past an actor's recorded refusals a minute");

    private readonly Channel<AuditEntry> _queue = Channel.CreateBounded<AuditEntry>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public void Write(AuditEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            Failed(null, [entry]);
        }
    }

    public void CountRefusalNotRecorded() => RefusalsNotRecorded.Add(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<AuditEntry>(MaxBatch);
        // Stopping ends the wait for more, not the writing of what is queued.
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await WriteQueuedAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await WriteQueuedAsync(batch);
        }
    }

    private async Task WriteQueuedAsync(List<AuditEntry> batch)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                await cluster.GetGrain<IAuditGrain>(0).Record([.. batch]);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Failed(e, batch);
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the audit entry of {Action} ({Path}) by '{Actor}', answered {Status}")]
    private partial void LogWriteFailed(Exception? exception, string action, string path, string actor, int status);
}
