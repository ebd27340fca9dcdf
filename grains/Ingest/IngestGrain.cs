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

    /// <summary>
    /// How long, on average, after a commit the partition's new rows are added to the query rollups, together with
    /// whatever else committed meanwhile. Queries read the rows not rolled up yet from the table, so this trades
    /// ingest throughput (one rollup statement for many batches) against the raw rows a query reads at most.
    /// </summary>
    public TimeSpan RollupDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A partition is rolled up at once when this many of its rows wait, so a busy one never leaves a long raw tail.</summary>
    public int RollupRows { get; set; } = 50_000;

    /// <summary>
    /// The most rows one roll-up transaction adds (about 0.4 s for 100,000 orders), since the partition's batches wait
    /// for it; more waiting rows (rows stored before rollups existed) are rolled up in back-to-back passes.
    /// </summary>
    public int RollupRowsPerPass { get; set; } = 100_000;

    /// <summary>
    /// How often at most a partition checks on request (<see cref="IIngestGrain.CheckRollups"/>) whether its rollups
    /// miss rows (and need a backfill); it also checks before the first roll-up of an activation.
    /// </summary>
    public TimeSpan RollupCheckInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The least time between two restarts of a partition's rollups, where a backfill deletes the rollups of a term or
    /// dimension that another release's roll-up left out (<see cref="Query.TermRollups.BackfillAsync"/>): while two
    /// releases that roll up different terms or dimensions run side by side (a rolling deploy), each would otherwise
    /// restart the other's again and again.
    /// </summary>
    public TimeSpan RollupRestartSpacing { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long after they were last written the rollups of a term or dimension that this release does not write (a
    /// custom KPI removed, a term of the catalog an earlier release had) are deleted
    /// (<see cref="Query.TermRollups.DropAbandonedAsync"/>): long enough to outlast a rolling deploy and a quick
    /// rollback, since rollups dropped and wanted again are backfilled from scratch. Zero or less keeps them.
    /// </summary>
    public TimeSpan AbandonedRollupsAfter { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often at most a partition looks for abandoned rollups (<see cref="AbandonedRollupsAfter"/>); also on its first roll-up of an activation.</summary>
    public TimeSpan AbandonedRollupsCheckInterval { get; set; } = TimeSpan.FromHours(1);
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
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime,
    ILogger<IngestGrain> logger) : Grain, IIngestGrain
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private string _clientId = "";
    private ObjectModelTable? _table;
    private IAsyncStream<EventBatch>? _stream;
    private PartitionSequence? _sequence;
    private Query.TermRollups? _rollups; // what the last roll-up or check wrote: the catalog's terms and the client's custom KPIs' (CurrentRollupsAsync)
    private IGrainTimer? _rollUp; // dormant until armed: a timer disposed from its own callback cancels that callback
    private bool _rollUpArmed;
    private long _rowsToRollUp;
    private bool _checkRollups = true; // before the next roll-up: whether the rollups miss rows (TermRollups.PartitionAsync)
    private bool _backfill; // the last check found rollups missing rows: each roll-up is followed by a backfill pass until none can be backfilled
    private DateTimeOffset? _restartDue; // when coverages a roll-up left out may restart (IngestOptions.RollupRestartSpacing), if some wait
    private long _rollupsCheckedAt; // Stopwatch timestamp of the last check; 0 before the first
    private long _configVersion = -1; // of the client's configuration CurrentRollupsAsync last read
    private long _abandonedCheckedAt; // Stopwatch timestamp of the last look for abandoned rollups; 0 before the first
    private long _fruitlessProbeAt; // Stopwatch timestamp of the last look for failing terms that found none; 0 if none
    private readonly HashSet<string> _failingTerms = new(StringComparer.Ordinal); // state keys of terms whose roll-up hit a data exception: left out until the configuration changes or the grain activates again

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        _clientId = key[..slash];
        _table = tables.Find(key[(slash + 1)..]);
        _sequence = _table is null ? null : new PartitionSequence(_clientId, _table.Model.Code);
        _stream = this.GetStreamProvider(EventStreams.Provider).GetStream<EventBatch>(StreamId.Create(EventStreams.Namespace, _clientId));
        if (_table?.Model.Kind == Catalog.ObjectKind.Event)
        {
            _rollUp = this.RegisterGrainTimer(RollUpAsync, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
            // Rows an earlier activation committed but did not roll up (it was deactivated or died first) are rolled up
            // soon, after a check of the rollups' coverage. Deactivation itself does no database work: until then
            // queries read those rows raw.
            ScheduleRollUp();
        }

        return Task.CompletedTask;
    }

    public async Task CheckRollups()
    {
        if (_rollUp is null)
        {
            return;
        }

        // A changed set of terms (the client's custom KPIs) is checked at once, the same set at most every
        // RollupCheckInterval.
        if (await CurrentRollupsAsync(CancellationToken.None) is null
            || (!_checkRollups && Stopwatch.GetElapsedTime(_rollupsCheckedAt) < options.Value.RollupCheckInterval))
        {
            return;
        }

        if (await RollupsMissRowsAsync(CancellationToken.None))
        {
            RollUpNow();
        }
        else
        {
            // Rows this activation has not rolled up yet (or whose roll-up failed) are not left waiting for a batch.
            ScheduleRollUp();
        }
    }

    public async Task<IngestResult> Ingest(IngestRequest request)
    {
        if (_table is null)
        {
            var key = this.GetPrimaryKeyString();
            var model = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];
            return IngestResult.Failed(IngestStatus.UnknownObjectModel,
                $"'{model}' is not an object model (codes are lower case); they are: {string.Join(", ", tables.All.Select(t => t.Model.Code).Order(StringComparer.Ordinal))}");
        }

        if (await GrainFactory.GetGrain<IClientConfigGrain>(_clientId).Get() is not { } config)
        {
            return IngestResult.Failed(IngestStatus.UnknownClient, $"client '{_clientId}' does not exist");
        }

        ParseOutcome parsed;
        try
        {
            var maxRows = options.Value.MaxRowsPerRequest;
            // The client's own names for fields (its field mappings) are read as the fields they map to.
            var mapped = (config.FieldMappings ?? []).Where(m => m.ObjectModel == _table.Model.Code).Select(m => (m.SourceField, m.ModelField)).ToList();
            var layout = mapped.Count == 0 ? _table.Layout : _table.Layout.WithSourceNames(mapped);
            parsed = request.Format == IngestFormat.Csv
                ? CsvRowParser.Parse(request.Body, layout, maxRows)
                : JsonRowParser.Parse(request.Body, layout, maxRows);
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
            var fingerprint = request.IdempotencyKey is null ? null : RequestFingerprint.Of(parsed, _table.Layout);
            (result, batch) = await CommitAsync(request.IdempotencyKey, fingerprint, parsed);
        }
        catch (CommitOutcomeUnknownException ex)
        {
            // COMMIT was sent and the connection broke before its answer: the rows may be stored. "Nothing was stored,
            // retry" would have a caller without an idempotency key store them twice.
            logger.LogWarning(ex.InnerException, "Commit of {Client}/{Model} sent, outcome unknown", _clientId, _table.Model.Code);
            return IngestResult.Failed(IngestStatus.Unavailable, request.IdempotencyKey is null
                ? "the connection to the database broke while the batch was committing, so it may or may not be stored; check "
                  + "before sending it again (a batch sent with an Idempotency-Key can be retried safely: the retry is answered "
                  + "from the first attempt if that one was stored)"
                : "the connection to the database broke while the batch was committing, so it may or may not be stored; retry "
                  + "with the same Idempotency-Key: the retry is answered from the first attempt if that one was stored",
                parsed.Received);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The transaction failed before its COMMIT was sent, or the server refused it: the caller gets a clear
            // "retry", never a database exception.
            logger.LogWarning(ex, "Commit of {Client}/{Model} failed", _clientId, _table.Model.Code);
            return IngestResult.Failed(IngestStatus.Unavailable, "the database is unavailable; nothing was stored, retry the request", parsed.Received);
        }

        if (batch is not null)
        {
            _rowsToRollUp += batch.Rows.Length;
            ScheduleRollUp();
            await PublishAsync(batch);
        }

        return result;
    }

    private async Task<(IngestResult Result, EventBatch? Batch)> CommitAsync(string? idempotencyKey, byte[]? fingerprint, ParseOutcome parsed)
    {
        try
        {
            return await CommitOnceAsync(idempotencyKey, fingerprint, parsed);
        }
        catch (Exception ex) when (PartitionSequence.IsMoved(ex))
        {
            // Another writer committed to this partition since this activation's last commit (a duplicate activation
            // during a failover): nothing of this attempt was stored, and the next one numbers from the locked row.
            logger.LogInformation("Partition {Client}/{Model} moved under this activation; committing again", _clientId, _table!.Model.Code);
            return await CommitOnceAsync(idempotencyKey, fingerprint, parsed);
        }
    }

    private async Task<(IngestResult Result, EventBatch? Batch)> CommitOnceAsync(string? idempotencyKey, byte[]? fingerprint, ParseOutcome parsed)
    {
        using var activity = IngestTelemetry.Source.StartActivity("ingest.commit");
        activity?.SetTag("ae.client", _clientId);
        activity?.SetTag("ae.object_model", _table!.Model.Code);
        var started = Stopwatch.GetTimestamp();

        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        // Number the batch. When this activation does not know where the partition ends, this locks and advances the
        // partition's row: a second activation during a failover waits here instead of interleaving sequence numbers.
        var claim = await _sequence!.ClaimAsync(connection, parsed.Rows.Count, CancellationToken.None);
        if (idempotencyKey is not null && await FindKeyAsync(connection, idempotencyKey) is { } used)
        {
            // Keys recorded by releases before fingerprints have none: they count as matching, so a request retried
            // across an upgrade is still answered from its first attempt.
            if (used.Fingerprint is null || used.Fingerprint.AsSpan().SequenceEqual(fingerprint))
            {
                return (used.Result with { Status = IngestStatus.Replayed }, null);
            }

            // Answering "replayed" would drop rows the caller believes stored; refusing stores nothing either, but says so,
            // and when the key was used: the committedAt of its first answer, which the caller can find in its own records.
            var usedAt = used.Result.CommittedAt;
            logger.LogInformation("Idempotency key {Key} of {Client}/{Model} reused for a different request", idempotencyKey, _clientId, _table!.Model.Code);
            return (IngestResult.Failed(IngestStatus.IdempotencyKeyReused,
                $"The Idempotency-Key '{idempotencyKey}' was already used at {usedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ} for a different request "
                + "(other rows); nothing of this one was stored. Send it again with a new key.") with { CommittedAt = usedAt }, null);
        }

        var rows = new EventRow[parsed.Rows.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = parsed.Rows[i].WithSequence(claim.First + i);
        }

        await _table!.CopyAsync(connection, _clientId, rows, CancellationToken.None);

        var committedAt = DateTimeOffset.UtcNow;
        var result = new IngestResult(IngestStatus.Committed, parsed.Received, rows.Length, claim.First, claim.Last, parsed.Errors, committedAt);

        // What must hold for the batch to count goes in one round trip with COMMIT: a statement that fails (the
        // partition moved, the key was taken) skips the COMMIT, and the transaction rolls back.
        await using var commit = new NpgsqlBatch(connection, transaction);
        if (_sequence.Confirmation(claim) is { } confirmation)
        {
            commit.BatchCommands.Add(confirmation);
        }

        if (idempotencyKey is not null)
        {
            commit.BatchCommands.Add(Remember(idempotencyKey, fingerprint, result));
        }

        commit.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        try
        {
            await commit.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException and not PostgresException or TimeoutException)
        {
            // Not the server refusing the batch (a PostgresException: the COMMIT was then skipped) but the connection
            // or the wait failing after COMMIT went out: the server may have committed.
            throw new CommitOutcomeUnknownException(ex);
        }

        _sequence.Committed(claim);
        IngestTelemetry.RowsCommitted.Add(rows.Length);
        IngestTelemetry.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return (result, new EventBatch(_clientId, _table.Model.Code, claim.First, claim.Last, committedAt, rows));
    }

    /// <summary>
    /// Rolls up the partition's new rows about <see cref="IngestOptions.RollupDelay"/> from now, unless that is already
    /// due; at once when <see cref="IngestOptions.RollupRows"/> rows wait.
    /// </summary>
    private void ScheduleRollUp()
    {
        if (_rollUp is null)
        {
            return;
        }

        if (_rowsToRollUp >= options.Value.RollupRows)
        {
            RollUpNow();
        }
        else if (!_rollUpArmed)
        {
            // Between half and one and a half delays: partitions that started together (a silo start, a load test)
            // would otherwise all roll up in the same second, and every ingest grain would wait on that burst at once.
            _rollUpArmed = true;
            _rollUp.Change(options.Value.RollupDelay * (0.5 + Random.Shared.NextDouble()), Timeout.InfiniteTimeSpan);
        }
    }

    private void RollUpNow()
    {
        _rollUpArmed = true;
        _rollUp!.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// One roll-up pass, then one backfill pass while some term or dimension misses rows; the next passes right after
    /// them while rows wait. Each tick's passes are transactions of their own, so the partition's batches are served
    /// between them.
    /// </summary>
    private async Task RollUpAsync(CancellationToken cancellationToken)
    {
        _rollUpArmed = false;
        _rowsToRollUp = 0;
        // A silo that is stopping leaves its partitions' rows to their next activations (queries read them raw until
        // then): on the last silo of a cluster, the configuration grains a roll-up reads could not be placed anywhere.
        if (lifetime.ApplicationStopping.IsCancellationRequested
            || await CurrentRollupsAsync(cancellationToken) is not { } rollups)
        {
            return;
        }

        if (_checkRollups)
        {
            await RollupsMissRowsAsync(cancellationToken);
        }

        try
        {
            var pass = await rollups.RollUpAsync(dataSource, _clientId, options.Value.RollupRowsPerPass, cancellationToken);
            IngestTelemetry.RowsRolledUp.Add(pass.Rows);
            var backfillGoesOn = await BackfillAsync(rollups, cancellationToken);
            if (pass.Remaining > 0 || backfillGoesOn)
            {
                RollUpNow();
            }
        }
        catch (PostgresException ex) when (Query.TermRollups.IsDataException(ex))
        {
            await LeaveOutFailingTermsAsync(rollups, ex, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // Nothing is lost: queries read the rows after the watermark raw until a later roll-up succeeds.
            logger.LogWarning(ex, "Rolling up {Client}/{Model} failed; trying again later", _clientId, _table!.Model.Code);
            if (!cancellationToken.IsCancellationRequested)
            {
                ScheduleRollUp();
            }
        }

        await DropAbandonedRollupsAsync(rollups, cancellationToken);
    }

    /// <summary>
    /// A data exception (class 22) from some term over the rows a pass adds (a sum past float8's range, say) would stop
    /// every roll-up of the partition for good, and every query would read its growing tail raw. The terms that fail
    /// alone are found and left out (<see cref="Query.TermRollups.FailingTermsAsync"/>), and the others go on: the left
    /// out terms' coverage stays behind, so their KPIs read raw rows (with the engine's double arithmetic), and the
    /// partition's rollup status says it misses rows. The look costs a pass per term, each under the partition's lock,
    /// while the partition's batches wait: one that finds none (a lock it did not get, say) leaves the pass to a later
    /// try, and the next look waits <see cref="IngestOptions.RollupCheckInterval"/>.
    /// </summary>
    private async Task LeaveOutFailingTermsAsync(Query.TermRollups rollups, PostgresException failure, CancellationToken cancellationToken)
    {
        var model = _table!.Model.Code;
        IReadOnlyList<Kpi.Formula.AggregateTerm> failing = [];
        if (_fruitlessProbeAt == 0 || Stopwatch.GetElapsedTime(_fruitlessProbeAt) >= options.Value.RollupCheckInterval)
        {
            try
            {
                failing = await rollups.FailingTermsAsync(dataSource, _clientId, options.Value.RollupRowsPerPass, cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                logger.LogWarning(ex, "Looking for the rollup terms of {Client}/{Model} that fail failed", _clientId, model);
            }

            _fruitlessProbeAt = failing.Count == 0 ? Stopwatch.GetTimestamp() : 0;
        }

        if (failing.Count == 0)
        {
            logger.LogWarning(failure, "Rolling up {Client}/{Model} failed over some row; trying again later", _clientId, model);
            if (!cancellationToken.IsCancellationRequested)
            {
                ScheduleRollUp();
            }

            return;
        }

        logger.LogWarning(
            failure, "Rolling up {Client}/{Model} failed over some row; leaving out the terms {Terms}, whose KPIs read raw rows",
            _clientId, model, string.Join("; ", failing.Select(t => t.StateKey)));
        IngestTelemetry.RollupTermsLeftOut.Add(failing.Count);
        _failingTerms.UnionWith(failing.Select(t => t.StateKey));
        RollUpNow();
    }

    /// <summary>
    /// One backfill pass while some term or dimension misses rolled-up rows (<see cref="Query.TermRollups.BackfillAsync"/>),
    /// and whether another should follow at once. Coverages a roll-up left out that may not restart yet are taken up
    /// again by the first roll-up after they may.
    /// </summary>
    /// <remarks>
    /// A data exception (class 22: an overflow, say) over some stored row from a term new to the partition ends the
    /// backfill rather than the roll-ups: that term's KPIs read raw rows (and report the error themselves), and the
    /// next check (a query's, or the next activation's) tries again. Other failures leave it to the next roll-up.
    /// </remarks>
    private async Task<bool> BackfillAsync(Query.TermRollups rollups, CancellationToken cancellationToken)
    {
        if (_restartDue <= DateTimeOffset.UtcNow)
        {
            _restartDue = null;
            _backfill = true;
        }

        if (!_backfill)
        {
            return false;
        }

        var model = _table!.Model.Code;
        try
        {
            var backfill = await rollups.BackfillAsync(dataSource, _clientId, options.Value.RollupRowsPerPass, options.Value.RollupRestartSpacing, cancellationToken);
            IngestTelemetry.RowsBackfilled.Add(backfill.Rows);
            if (backfill.Restarted > 0)
            {
                logger.LogInformation("Restarting {Count} rollup coverages of {Client}/{Model}: a roll-up left them out", backfill.Restarted, _clientId, model);
                IngestTelemetry.RollupRestarts.Add(backfill.Restarted);
            }

            _restartDue = DateTimeOffset.UtcNow + backfill.RestartIn;
            _backfill = backfill.Remaining > 0;
        }
        catch (PostgresException ex) when (Query.TermRollups.IsDataException(ex))
        {
            logger.LogWarning(ex, "Backfilling the rollups of {Client}/{Model} failed over some stored row; the KPIs of the terms it backfills read raw rows", _clientId, model);
            _backfill = false;
        }

        return _backfill;
    }

    /// <summary>
    /// Deletes, at most once per <see cref="IngestOptions.AbandonedRollupsCheckInterval"/>, the rollups of terms and
    /// dimensions this release does not write that no roll-up has written for <see cref="IngestOptions.AbandonedRollupsAfter"/>
    /// (<see cref="Query.TermRollups.DropAbandonedAsync"/>). A failure leaves them to the next look: they are never read.
    /// </summary>
    private async Task DropAbandonedRollupsAsync(Query.TermRollups rollups, CancellationToken cancellationToken)
    {
        // While terms are left out after failing (_failingTerms) they are still the client's.
        var after = options.Value.AbandonedRollupsAfter;
        if (after <= TimeSpan.Zero || _failingTerms.Count > 0 || cancellationToken.IsCancellationRequested
            || (_abandonedCheckedAt != 0 && Stopwatch.GetElapsedTime(_abandonedCheckedAt) < options.Value.AbandonedRollupsCheckInterval))
        {
            return;
        }

        _abandonedCheckedAt = Stopwatch.GetTimestamp();
        try
        {
            var dropped = await rollups.DropAbandonedAsync(dataSource, _clientId, after, cancellationToken);
            if (dropped > 0)
            {
                logger.LogInformation("Dropped the rollups of {Count} terms or dimensions of {Client}/{Model} that no roll-up has written for {Days:0.#} days",
                    dropped, _clientId, _table!.Model.Code, after.TotalDays);
                IngestTelemetry.RollupsDropped.Add(dropped);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            logger.LogWarning(ex, "Dropping abandoned rollups of {Client}/{Model} failed; trying again later", _clientId, _table!.Model.Code);
        }
    }

    /// <summary>
    /// The rollups this partition writes now: the catalog's terms over its object model and those of the client's
    /// custom KPIs (<see cref="Query.TermRollups.ForClient"/>), or null if none (no KPI of the catalog or the client
    /// has a term over it that rolls up) or if the configuration cannot be read (a roll-up is then scheduled to try
    /// again). A client whose custom KPIs add terms gets them from the next roll-up on, after a check that backfills
    /// the rollups so that they hold every row.
    /// </summary>
    private async Task<Query.TermRollups?> CurrentRollupsAsync(CancellationToken cancellationToken)
    {
        ClientConfig? config;
        try
        {
            config = await GrainFactory.GetGrain<IClientConfigGrain>(_clientId).Get();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // While the silo shuts down the configuration grain may be gone already: the next activation rolls up.
            if (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Reading the configuration of {Client} failed; rolling up {Model} later", _clientId, _table!.Model.Code);
                ScheduleRollUp();
            }

            return null;
        }

        if ((config?.Version ?? -1) != _configVersion)
        {
            _configVersion = config?.Version ?? -1;
            _failingTerms.Clear();
        }

        var rollups = Query.TermRollups.ForClient(config).GetValueOrDefault(_table!.Model.Code)?.Without(_failingTerms);
        if (!ReferenceEquals(rollups, _rollups))
        {
            _checkRollups = true;
            _rollups = rollups;
        }

        return rollups;
    }

    /// <summary>
    /// Whether some term or dimension of this release misses rolled-up rows of the partition (a KPI term or dimension
    /// added since its first rows, or a roll-up by another release that left one out); if so, the roll-ups that follow
    /// backfill them (<see cref="Query.TermRollups.BackfillAsync"/>), and queries read raw what they miss until then.
    /// A failure is logged and leaves the check to the next roll-up; the roll-up itself goes on either way.
    /// </summary>
    private async Task<bool> RollupsMissRowsAsync(CancellationToken cancellationToken)
    {
        var model = _table!.Model.Code;
        try
        {
            var partition = await _rollups!.PartitionAsync(dataSource, _clientId, cancellationToken);
            _checkRollups = false;
            _rollupsCheckedAt = Stopwatch.GetTimestamp();
            var missesRows = partition is { MissesRows: true };
            if (missesRows && !_backfill && _restartDue is null)
            {
                logger.LogInformation("Backfilling the rollups of {Client}/{Model}: some of their terms or dimensions miss rows", _clientId, model);
                IngestTelemetry.RollupBackfills.Add(1);
            }

            _backfill = missesRows;
            return missesRows;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            _checkRollups = true;
            logger.LogWarning(ex, "Checking the rollups of {Client}/{Model} failed; the next roll-up checks again", _clientId, model);
            return false;
        }
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

    /// <summary>The first answer given for <paramref name="idempotencyKey"/> and for which request (<see cref="RequestFingerprint"/>), or null if it is new.</summary>
    private async Task<UsedKey?> FindKeyAsync(NpgsqlConnection connection, string idempotencyKey)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT result::text, request_fingerprint
            FROM ingest.idempotency_keys WHERE client_id = $1 AND object_model = $2 AND idempotency_key = $3
            """, connection);
        command.Parameters.AddWithValue(_clientId);
        command.Parameters.AddWithValue(_table!.Model.Code);
        command.Parameters.AddWithValue(idempotencyKey);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync() || reader.IsDBNull(0))
        {
            return null;
        }

        return new UsedKey(
            JsonSerializer.Deserialize<IngestResult>(reader.GetString(0), Json)!,
            reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1));
    }

    private NpgsqlBatchCommand Remember(string idempotencyKey, byte[]? fingerprint, IngestResult result)
    {
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO ingest.idempotency_keys (client_id, object_model, idempotency_key, from_sequence, to_sequence, result, request_fingerprint)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
            """);
        command.Parameters.AddWithValue(_clientId);
        command.Parameters.AddWithValue(_table!.Model.Code);
        command.Parameters.AddWithValue(idempotencyKey);
        command.Parameters.AddWithValue(result.FromSequence);
        command.Parameters.AddWithValue(result.ToSequence);
        command.Parameters.AddWithValue(JsonSerializer.Serialize(result, Json));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)fingerprint ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        return command;
    }

    private sealed record UsedKey(IngestResult Result, byte[]? Fingerprint);
}

/// <summary>The COMMIT of an ingest batch was sent, and its answer never came back.</summary>
internal sealed class CommitOutcomeUnknownException(Exception inner) : Exception("The outcome of the commit is unknown", inner);
