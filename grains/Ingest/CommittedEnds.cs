using Npgsql;

namespace AnalyticsEngine.Ingest;

/// <summary>The last committed sequence of one object model of a client.</summary>
public readonly record struct CommittedEnd(string ObjectModel, long LastSequence);

/// <summary>
/// Reads <c>ingest.partitions</c> for the client grains of one silo, many clients per query. Every client grain
/// asks every few seconds whether events were committed that it never received; asked one by one, a thousand
/// clients make a query every 10 ms. Requests that arrive while a query runs wait for the next one, which answers
/// all of them: under load the queries grow larger instead of more numerous, and an idle silo asks at once.
/// </summary>
public sealed class CommittedEnds(NpgsqlDataSource dataSource)
{
    private readonly Lock _gate = new();
    private Dictionary<string, TaskCompletionSource<IReadOnlyList<CommittedEnd>>> _waiting = new(StringComparer.Ordinal);
    private bool _reading;
    private long _queries;

    /// <summary>How many queries have been sent, for telemetry and tests.</summary>
    public long Queries => Interlocked.Read(ref _queries);

    /// <summary>The committed end of every partition of <paramref name="clientId"/> (none for a client that never ingested).</summary>
    public Task<IReadOnlyList<CommittedEnd>> GetAsync(string clientId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        Task<IReadOnlyList<CommittedEnd>> answer;
        var start = false;
        lock (_gate)
        {
            if (!_waiting.TryGetValue(clientId, out var waiting))
            {
                // Continuations run on their own schedulers (a grain's), never inline on the reading loop.
                waiting = new TaskCompletionSource<IReadOnlyList<CommittedEnd>>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add(clientId, waiting);
            }

            answer = waiting.Task;
            if (!_reading)
            {
                _reading = start = true;
            }
        }

        if (start)
        {
            _ = Task.Run(ReadWhileWaitingAsync, CancellationToken.None);
        }

        return answer.WaitAsync(cancellationToken);
    }

    private async Task ReadWhileWaitingAsync()
    {
        while (true)
        {
            Dictionary<string, TaskCompletionSource<IReadOnlyList<CommittedEnd>>> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _reading = false;
                    return;
                }

                batch = _waiting;
                _waiting = new Dictionary<string, TaskCompletionSource<IReadOnlyList<CommittedEnd>>>(StringComparer.Ordinal);
            }

            try
            {
                var ends = await ReadAsync(batch.Keys.ToArray());
                foreach (var (clientId, waiting) in batch)
                {
                    waiting.TrySetResult(ends.TryGetValue(clientId, out var found) ? found : []);
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch.Values)
                {
                    waiting.TrySetException(ex);
                }
            }
        }
    }

    private async Task<Dictionary<string, List<CommittedEnd>>> ReadAsync(string[] clientIds)
    {
        Interlocked.Increment(ref _queries);
        await using var command = dataSource.CreateCommand(
            "SELECT client_id, object_model, last_sequence FROM ingest.partitions WHERE client_id = ANY($1)");
        command.Parameters.AddWithValue(clientIds);
        await using var reader = await command.ExecuteReaderAsync();
        var ends = new Dictionary<string, List<CommittedEnd>>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            var clientId = reader.GetString(0);
            if (!ends.TryGetValue(clientId, out var list))
            {
                ends.Add(clientId, list = []);
            }

            list.Add(new CommittedEnd(reader.GetString(1), reader.GetInt64(2)));
        }

        return ends;
    }
}
