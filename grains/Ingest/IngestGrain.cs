using System.Diagnostics;
using System.Text.Json;
using AnalyticsEngine.Clients;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Streams;

namespace AnalyticsEngine.Ingest;

/// <summary>Limits that keep one request from hurting everybody else.</summary>
public sealed class IngestOptions
{
    public int MaxRowsPerRequest { get; set; } = 50_000;

    /// <summary>Committed rows are published in stream messages of at most this many rows.</summary>
    public int RowsPerStreamMessage { get; set; } = 2_000;
}

/// <summary>
/// The single writer of one (client, object model) partition. A batch is validated, committed in one
/// transaction that also advances the partition's sequence, and only then published: the database is the
/// log, and a consumer that misses a published batch reads it back from the table.
/// </summary>
public sealed class IngestGrain(
    NpgsqlDataSource dataSource,
    ObjectModelTables tables,
    Microsoft.Extensions.Options.IOptions<IngestOptions> options,
    ILogger<IngestGrain> logger) : Grain, IIngestGrain
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private string _clientId = "";
    private ObjectModelTable? _table;
    private IAsyncStream<EventBatch>? _stream;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        _clientId = key[..slash];
        _table = tables.Find(key[(slash + 1)..]);
        _stream = this.GetStreamProvider(EventStreams.Provider).GetStream<EventBatch>(StreamId.Create(EventStreams.Namespace, _clientId));
        return Task.CompletedTask;
    }

    public async Task<IngestResult> Ingest(IngestRequest request)
    {
        if (_table is null)
        {
            return IngestResult.Failed(IngestStatus.UnknownObjectModel, $"'{this.GetPrimaryKeyString()}' does not name an object model");
        }

        if (await GrainFactory.GetGrain<IClientConfigGrain>(_clientId).Get() is null)
        {
            return IngestResult.Failed(IngestStatus.UnknownClient, $"client '{_clientId}' does not exist");
        }

        ParseOutcome parsed;
        try
        {
            var maxRows = options.Value.MaxRowsPerRequest;
            parsed = request.Format == IngestFormat.Csv
                ? CsvRowParser.Parse(request.Body, _table.Layout, maxRows)
                : JsonRowParser.Parse(request.Body, _table.Layout, maxRows);
        }
        catch (IngestLimitException ex)
        {
            return IngestResult.Failed(IngestStatus.TooLarge, ex.Message);
        }

        if (parsed.Received == 0 && parsed.Errors.Count == 0)
        {
            return IngestResult.Failed(IngestStatus.Refused, "the batch contains no rows");
        }

        if (parsed.Rows.Count == 0 || (parsed.Errors.Count > 0 && request.Policy == IngestPolicy.RejectBatch))
        {
            return new IngestResult(IngestStatus.Refused, parsed.Received, 0, 0, 0, parsed.Errors, default);
        }

        IngestResult result;
        EventBatch? batch;
        try
        {
            (result, batch) = await CommitAsync(request.IdempotencyKey, parsed);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The transaction did not commit (or its outcome is unknown and a retry with the same
            // idempotency key settles it); the caller gets a clear "retry", never a database exception.
            logger.LogWarning(ex, "Commit of {Client}/{Model} failed", _clientId, _table.Model.Code);
            return IngestResult.Failed(IngestStatus.Unavailable, "the database is unavailable; nothing was stored, retry the request", parsed.Received);
        }

        if (batch is not null)
        {
            await PublishAsync(batch);
        }

        return result;
    }

    private async Task<(IngestResult Result, EventBatch? Batch)> CommitAsync(string? idempotencyKey, ParseOutcome parsed)
    {
        using var activity = IngestTelemetry.Source.StartActivity("ingest.commit");
        activity?.SetTag("ae.client", _clientId);
        activity?.SetTag("ae.object_model", _table!.Model.Code);
        var started = Stopwatch.GetTimestamp();

        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        // Lock the partition row first (the no-op update takes the row lock): a second activation of
        // this grain during a failover waits here instead of interleaving sequence numbers.
        var lastSequence = await LockPartitionAsync(connection);
        if (idempotencyKey is not null && await FindReplayAsync(connection, idempotencyKey) is { } replay)
        {
            return (replay with { Status = IngestStatus.Replayed }, null);
        }

        var rows = new EventRow[parsed.Rows.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = parsed.Rows[i].WithSequence(lastSequence + 1 + i);
        }

        var from = lastSequence + 1;
        var to = lastSequence + rows.Length;
        await _table!.CopyAsync(connection, _clientId, rows, CancellationToken.None);
        await Query.TermRollups.WriteAsync(connection, _clientId, _table.Model.Code, from, to);
        await using (var advance = new NpgsqlCommand(
            "UPDATE ingest.partitions SET last_sequence = $3 WHERE client_id = $1 AND object_model = $2", connection))
        {
            advance.Parameters.AddWithValue(_clientId);
            advance.Parameters.AddWithValue(_table.Model.Code);
            advance.Parameters.AddWithValue(to);
            await advance.ExecuteNonQueryAsync();
        }

        var committedAt = DateTimeOffset.UtcNow;
        var result = new IngestResult(IngestStatus.Committed, parsed.Received, rows.Length, from, to, parsed.Errors, committedAt);
        if (idempotencyKey is not null)
        {
            await RememberAsync(connection, idempotencyKey, result);
        }

        await transaction.CommitAsync();
        IngestTelemetry.RowsCommitted.Add(rows.Length);
        IngestTelemetry.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return (result, new EventBatch(_clientId, _table.Model.Code, from, to, committedAt, rows));
    }

    private async Task PublishAsync(EventBatch batch)
    {
        var chunk = options.Value.RowsPerStreamMessage;
        try
        {
            for (var offset = 0; offset < batch.Rows.Length; offset += chunk)
            {
                var rows = batch.Rows.AsSpan(offset, Math.Min(chunk, batch.Rows.Length - offset)).ToArray();
                await _stream!.OnNextAsync(batch with { FromSequence = rows[0].Sequence, ToSequence = rows[^1].Sequence, Rows = rows });
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Committed is committed: consumers find the gap on their next batch or activation and
            // read these rows from the table, so the caller still gets success.
            logger.LogWarning(ex, "Publishing {Client}/{Model} {From}-{To} failed; consumers will catch up from the database",
                batch.ClientId, batch.ObjectModel, batch.FromSequence, batch.ToSequence);
        }
    }

    private async Task<long> LockPartitionAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, $2, 0)
            ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = ingest.partitions.last_sequence
            RETURNING last_sequence
            """, connection);
        command.Parameters.AddWithValue(_clientId);
        command.Parameters.AddWithValue(_table!.Model.Code);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<IngestResult?> FindReplayAsync(NpgsqlConnection connection, string idempotencyKey)
    {
        await using var command = new NpgsqlCommand(
            "SELECT result::text FROM ingest.idempotency_keys WHERE client_id = $1 AND object_model = $2 AND idempotency_key = $3", connection);
        command.Parameters.AddWithValue(_clientId);
        command.Parameters.AddWithValue(_table!.Model.Code);
        command.Parameters.AddWithValue(idempotencyKey);
        var json = (string?)await command.ExecuteScalarAsync();
        return json is null ? null : JsonSerializer.Deserialize<IngestResult>(json, Json);
    }

    private async Task RememberAsync(NpgsqlConnection connection, string idempotencyKey, IngestResult result)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO ingest.idempotency_keys (client_id, object_model, idempotency_key, from_sequence, to_sequence, result)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb)
            """, connection);
        command.Parameters.AddWithValue(_clientId);
        command.Parameters.AddWithValue(_table!.Model.Code);
        command.Parameters.AddWithValue(idempotencyKey);
        command.Parameters.AddWithValue(result.FromSequence);
        command.Parameters.AddWithValue(result.ToSequence);
        command.Parameters.AddWithValue(JsonSerializer.Serialize(result, Json));
        await command.ExecuteNonQueryAsync();
    }
}
