using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi.Formula;
using Npgsql;

namespace AnalyticsEngine.Query;

/// <summary>
/// The rollups of one event object model (<c>query.term_rollups</c>, sql/0005): for every rollable term of the
/// catalog's KPIs over it (and of a client's custom KPIs, <see cref="ForClient"/>), the term's partial state (sum, count, min, max) per client and UTC slot of 15 and 60
/// minutes, plus the events term (row count and newest event time); and the same per value of each of the model's
/// dimension fields (<c>query.dimension_rollups</c>, sql/0009), for drill-downs. Written by the partition's ingest grain a few
/// seconds after its rows commit (<see cref="RollUpAsync"/>), many batches at a time, by the same SQL aggregates the
/// query compiler uses on raw rows, so both give the same state.
/// </summary>
/// <remarks>
/// A term's coverage (<c>query.rollup_terms</c>) records the first sequence it was rolled up from; the query path
/// reads a term's rollups only when that is 1, i.e. when every row of the partition is in them. A term's rollups per
/// dimension value have a coverage of their own (<see cref="CoverageId"/>): a term or dimension added after a
/// partition's first rows is covered only once the partition has backfilled it, which its ingest grain does when it finds so
/// (<see cref="PartitionAsync"/>, <see cref="BackfillAsync"/>). The partition's watermark
/// (<c>ingest.partitions.rolled_up_through</c>) says up to which sequence they are; a query reads the rows after it raw.
/// </remarks>
internal sealed class TermRollups
{
    /// <summary>Slot lengths in minutes, longest first: 15 minutes align with every zone offset in use (:30, :45).</summary>
    public static readonly int[] SlotMinutes = [60, 15];

    /// <summary>
    /// Slot lengths of the rollups per dimension value: hours only. Quarter-hours would hold four times the rows
    /// (each value of each dimension times each term) to serve only bucket edges in zones at :30 and :45, which a
    /// drill-down reads from raw rows instead.
    /// </summary>
    public static readonly int[] DimensionSlotMinutes = [60];

    /// <summary>The slot lengths a query grouped by <paramref name="dimension"/> (or not grouped) can read rollups of.</summary>
    public static int[] SlotMinutesFor(string? dimension) => dimension is null ? SlotMinutes : DimensionSlotMinutes;

    /// <summary>Where slots start from: any whole UTC hour would do (Unix ticks count from one too).</summary>
    public const string SlotOrigin = "timestamptz '2000-01-01 00:00:00+00'";

    /// <summary>
    /// The start of the slot of <paramref name="minutes"/> that <paramref name="time"/> falls in, as the query's raw
    /// statements group by it and as the object-model tables' statistics name it (<see cref="Ingest.ObjectModelTable"/>):
    /// the planner uses those statistics only for this exact expression.
    /// </summary>
    public static string SlotStart(string time, int minutes) =>
        $"date_bin(interval '{minutes.ToString(CultureInfo.InvariantCulture)} minutes', {time}, {SlotOrigin})";

    /// <summary>The longest slot length that divides every boundary (so each slot lies inside one bucket), or null.</summary>
    public static int? SlotDividing(IReadOnlyList<long> boundaries)
    {
        foreach (var minutes in SlotMinutes)
        {
            var length = minutes * TimeSpan.TicksPerMinute;
            if (boundaries.All(b => b % length == 0))
            {
                return minutes;
            }
        }

        return null;
    }

    /// <summary>
    /// The condition under which a coverage <c>c</c> (<c>query.rollup_terms</c>) holds every row of its partition
    /// <c>p</c> (<c>ingest.partitions</c>) up to the watermark: rolled up from the first row, and through the watermark.
    /// </summary>
    internal const string CoversEveryRolledUpRow = "c.from_sequence = 1 AND c.covered_through = p.rolled_up_through";

    /// <summary>For <see cref="RollUpAsync"/>: every waiting row in one pass (tests and benchmarks, where no batch waits).</summary>
    public const long EveryRow = long.MaxValue;

    /// <summary>The term id of the events term: rows per slot (<c>count</c>) and the newest event time in Unix microseconds (<c>max</c>).</summary>
    public const long EventsTerm = 0;

    /// <summary>The state key the events term is recorded under in <c>query.rollup_terms</c>.</summary>
    public const string EventsKey = "events";

    /// <summary>
    /// The id under which <c>query.rollup_terms</c> records the coverage of a term (<see cref="EventsKey"/> for the
    /// events term): the term's own id, or, for its rollups per value of <paramref name="dimension"/>, an id of the
    /// pair. <c>query.dimension_rollups</c> keeps the term's own id in its <c>term</c> column.
    /// </summary>
    /// <remarks>
    /// Every coverage also records the last sequence it was rolled up through (<c>covered_through</c>), moved only by a
    /// roll-up that starts right after it: a roll-up without that term or dimension in between (by a silo of another
    /// release during a rolling deploy, or while a field was not marked as a dimension) leaves it behind the
    /// partition's watermark for good, and queries read raw rows until a backfill restarts it (<see cref="BackfillAsync"/>).
    /// </remarks>
    public static long CoverageId(string stateKey, string? dimension) =>
        dimension is not null ? IdOf($"{stateKey} by {dimension}")
        : string.Equals(stateKey, EventsKey, StringComparison.Ordinal) ? EventsTerm
        : IdOf(stateKey);

    private static readonly Lazy<IReadOnlyDictionary<string, TermRollups>> Catalog = new(() => Build(BuiltInCatalog.Kpis, BuiltInCatalog.ObjectModelsByCode));

    private readonly string _upsert;
    private readonly IReadOnlyList<object> _literals;
    private readonly Coverage[] _coverages; // the events term, then every term, then both per dimension: what the upsert records as rolled up

    private TermRollups(ObjectModelDefinition model, IReadOnlyList<AggregateTerm> terms)
    {
        Model = model;
        Terms = terms;
        TermIds = terms.ToDictionary(t => t.StateKey, t => IdOf(t.StateKey), StringComparer.Ordinal);
        Dimensions = model.DimensionFields().Select(f => f.Name).ToArray();
        AggregateTerm?[] all = [null, .. terms];
        string?[] scopes = [null, .. Dimensions];
        _coverages = scopes.SelectMany(d => all.Select(t => new Coverage(t, d))).ToArray();
        var literals = new List<object>();
        _upsert = UpsertSql(_coverages, literals, backfill: false);
        _literals = literals;
    }

    /// <summary>
    /// What one coverage (<see cref="CoverageId"/>) records as rolled up: the events term (<paramref name="Term"/>
    /// null) or a term, in total (<paramref name="Dimension"/> null) or per value of a dimension field.
    /// </summary>
    private sealed record Coverage(AggregateTerm? Term, string? Dimension)
    {
        public long Id { get; } = CoverageId(Term?.StateKey ?? EventsKey, Dimension);

        /// <summary>The id the rollup tables keep in their <c>term</c> column.</summary>
        public long TermId { get; } = Term is null ? EventsTerm : IdOf(Term.StateKey);

        /// <summary>How <c>query.rollup_terms</c> names it.</summary>
        public string Key { get; } = Dimension is null ? Term?.StateKey ?? EventsKey : $"{Term?.StateKey ?? EventsKey} by {Dimension}";
    }

    /// <summary>The rollups of every catalog object model that has rollable terms, by object model code.</summary>
    public static IReadOnlyDictionary<string, TermRollups> ForCatalog => Catalog.Value;

    /// <summary>
    /// The rollups of a client's object models: the catalog's terms and those of the client's custom KPIs (at most
    /// <see cref="MaxCustomTermsPerModel"/> more per model), by object model code. A model whose terms the catalog
    /// already has all of gets the catalog's rollups themselves.
    /// </summary>
    /// <remarks>
    /// Kept per distinct set of custom formulas, and the rollups themselves per distinct set of terms, so clients and
    /// configuration versions with the same terms share one instance (the ingest grain checks the rollups only when its
    /// instance changes). A custom KPI whose rollups cannot be built leaves the client with the catalog's: its terms
    /// are then read raw.
    /// </remarks>
    public static IReadOnlyDictionary<string, TermRollups> ForClient(ClientConfig? config)
    {
        if (config is not { CustomKpis.Count: > 0 })
        {
            return ForCatalog;
        }

        var key = string.Concat(config.CustomKpis.Select(k => k.Formula).Order(StringComparer.Ordinal).Select(f => $"{f.Length}:{f}"));
        return ByCustomFormulas.GetOrAdd(key, _ => WithCustomTerms(config.CustomKpis));
    }

    /// <summary>The most terms of a client's custom KPIs rolled up per object model beyond the catalog's: each one adds to every roll-up.</summary>
    public const int MaxCustomTermsPerModel = 32;

    private static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, TermRollups>> ByCustomFormulas = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, TermRollups> ByTerms = new(StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, TermRollups> WithCustomTerms(IEnumerable<KpiDefinition> customKpis)
    {
        try
        {
            var models = BuiltInCatalog.ObjectModelsByCode;
            var rollups = new Dictionary<string, TermRollups>(ForCatalog, StringComparer.Ordinal);
            foreach (var (model, terms) in RollableTerms(customKpis, models))
            {
                var catalog = ForCatalog.GetValueOrDefault(model);
                var extra = terms.Where(t => catalog?.TermIds.ContainsKey(t.StateKey) != true).Take(MaxCustomTermsPerModel).ToArray();
                if (extra.Length > 0)
                {
                    rollups[model] = Shared(models[model], [.. (catalog?.Terms ?? []).Concat(extra).OrderBy(t => t.StateKey, StringComparer.Ordinal)]);
                }
            }

            return rollups;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return ForCatalog;
        }
    }

    /// <summary>The one instance of the rollups of <paramref name="terms"/> (in state key order) over <paramref name="model"/>.</summary>
    private static TermRollups Shared(ObjectModelDefinition model, AggregateTerm[] terms) =>
        ByTerms.GetOrAdd(string.Concat(terms.Select(t => $"{t.StateKey.Length}:{t.StateKey}").Prepend(model.Code + "/")), _ => new TermRollups(model, terms));

    /// <summary>These rollups without the terms of <paramref name="stateKeys"/>: this instance itself if it has none of them.</summary>
    public TermRollups Without(IReadOnlySet<string> stateKeys)
    {
        ArgumentNullException.ThrowIfNull(stateKeys);
        return Terms.Any(t => stateKeys.Contains(t.StateKey)) ? Shared(Model, [.. Terms.Where(t => !stateKeys.Contains(t.StateKey))]) : this;
    }

    /// <summary>A PostgreSQL data exception (class 22): a value past float8's range, say, from a term over some stored row.</summary>
    public static bool IsDataException(PostgresException exception) =>
        exception?.SqlState.StartsWith("22", StringComparison.Ordinal) == true;

    public ObjectModelDefinition Model { get; }

    /// <summary>The object model's table, quoted for SQL.</summary>
    private string QualifiedTable => $"{KpiSqlCompiler.Quote(Model.Domain)}.{KpiSqlCompiler.Quote(Model.Code)}";

    /// <summary>One term per distinct state, in a fixed order.</summary>
    public IReadOnlyList<AggregateTerm> Terms { get; }

    /// <summary>Term id by state key.</summary>
    public IReadOnlyDictionary<string, long> TermIds { get; }

    /// <summary>The model's dimension fields, each rolled up per value too.</summary>
    public IReadOnlyList<string> Dimensions { get; }

    /// <summary>Whether a term's partial state can be added up from slots: sums, counts, minima and maxima of event rows.</summary>
    public static bool IsRollable(AggregateTerm term, ObjectModelDefinition model) =>
        model.Kind == ObjectKind.Event && term.StateKind is TermStateKind.SumCount or TermStateKind.Min or TermStateKind.Max;

    /// <summary>A stable 63-bit id of a state key (never <see cref="EventsTerm"/>).</summary>
    /// <remarks>
    /// Kept once worked out: every query over rollups asks for the ids of its terms and coverages several times, and
    /// hashing them each time was nearly a third of the silo's work on a day's query before its round trip. The keys are
    /// the terms of the catalog's and the clients' custom KPIs, as in <see cref="ForClient"/>'s cache.
    /// </remarks>
    public static long IdOf(string stateKey) => Ids.GetOrAdd(stateKey, static key =>
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        var id = BinaryPrimitives.ReadInt64BigEndian(hash) & long.MaxValue;
        return id == EventsTerm ? 1 : id;
    });

    private static readonly ConcurrentDictionary<string, long> Ids = new(StringComparer.Ordinal);

    /// <summary>The rollable terms of <paramref name="kpis"/> per event object model.</summary>
    internal static IReadOnlyDictionary<string, TermRollups> Build(IEnumerable<KpiDefinition> kpis, IReadOnlyDictionary<string, ObjectModelDefinition> models) =>
        RollableTerms(kpis, models).ToDictionary(m => m.Key, m => new TermRollups(models[m.Key], m.Value), StringComparer.Ordinal);

    /// <summary>The distinct rollable terms of <paramref name="kpis"/> per event object model, in state key order.</summary>
    private static Dictionary<string, AggregateTerm[]> RollableTerms(IEnumerable<KpiDefinition> kpis, IReadOnlyDictionary<string, ObjectModelDefinition> models)
    {
        var byModel = new Dictionary<string, Dictionary<string, AggregateTerm>>(StringComparer.Ordinal);
        foreach (var kpi in kpis)
        {
            if (KpiFormula.Compile(kpi.Formula, models).Formula is not { } formula)
            {
                continue;
            }

            foreach (var term in formula.Aggregates.Where(t => IsRollable(t, models[t.ObjectModel])))
            {
                if (!byModel.TryGetValue(term.ObjectModel, out var terms))
                {
                    terms = new Dictionary<string, AggregateTerm>(StringComparer.Ordinal);
                    byModel.Add(term.ObjectModel, terms);
                }

                terms.TryAdd(term.StateKey, term);
            }
        }

        return byModel.ToDictionary(m => m.Key, m => m.Value.Values.OrderBy(t => t.StateKey, StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
    }

    /// <summary>A roll-up statement (<see cref="UpsertSql"/>) over the rows <paramref name="fromSequence"/>..<paramref name="toSequence"/> of a client's partition.</summary>
    private static NpgsqlBatchCommand WriteCommand(
        string sql, IReadOnlyList<object> literals, IReadOnlyList<Coverage> coverages, string clientId, long fromSequence, long toSequence)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromSequence });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = toSequence });
        foreach (var literal in literals)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = literal });
        }

        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = coverages.Select(c => c.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = coverages.Select(c => c.Key).ToArray() });
        return command;
    }

    /// <summary>
    /// Rolls up at most <paramref name="maxRows"/> of the rows of a client's partition committed after its watermark
    /// (<c>ingest.partitions.rolled_up_through</c>) and moves the watermark past them, in one transaction.
    /// </summary>
    /// <remarks>
    /// Waits at most a few seconds for the partition's lock (held by an ingest transaction, or by a writer that is
    /// gone until the server ends its session): the caller tries again later, and queries read the rows raw meanwhile.
    /// The lock is held until the pass commits, so a pass is kept short: a partition with many rows to roll up (a
    /// rebuild, rows stored before rollups existed) takes many passes, and its batches commit in between.
    /// </remarks>
    public async Task<RollUpPass> RollUpAsync(NpgsqlDataSource dataSource, string clientId, long maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        return await InPatientTransactionAsync(
            dataSource, (connection, transaction) => RollUpLockedAsync(connection, transaction, clientId, maxRows, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// The terms whose roll-up of the partition's next pass fails with a data exception (<see cref="IsDataException"/>:
    /// a sum past float8's range over some new row, or over a slot's rows so far, say): each term is rolled up alone,
    /// in total and per dimension, in a transaction that is rolled back. Only for a pass that failed: it costs a pass
    /// per term.
    /// </summary>
    public async Task<IReadOnlyList<AggregateTerm>> FailingTermsAsync(NpgsqlDataSource dataSource, string clientId, long maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        var failing = new List<AggregateTerm>();
        foreach (var term in Terms)
        {
            var alone = new TermRollups(Model, [term]);
            try
            {
                await InPatientTransactionAsync(
                    dataSource, (connection, transaction) => alone.RollUpLockedAsync(connection, transaction, clientId, maxRows, cancellationToken), cancellationToken, commit: false);
            }
            catch (PostgresException ex) when (IsDataException(ex))
            {
                failing.Add(term);
            }
        }

        return failing;
    }

    /// <summary>
    /// Whether, by <paramref name="covered"/>, the coverage of every id a roll-up records (<see cref="CoverageId"/> of
    /// the events term and every term, in total and per dimension) holds every row rolled up.
    /// </summary>
    public bool HoldsEveryRow(Func<long, bool> covered) => _coverages.All(c => covered(c.Id));

    /// <summary>
    /// The most rolled-up rows (1 through <paramref name="watermark"/>) some coverage of this release misses, by the
    /// partition's coverage records: those before its first sequence where it holds the rows from there through the
    /// watermark, else all of them (none recorded, or a roll-up left it out).
    /// </summary>
    private long MissingRows(long watermark, IReadOnlyDictionary<long, (long From, long Through)> recorded) =>
        _coverages.Max(c => recorded.TryGetValue(c.Id, out var r) && r.Through == watermark ? Math.Min(r.From - 1, watermark) : watermark);

    /// <summary>The state of a client's partition of this object model and its rollups, or null if it has none.</summary>
    public async Task<PartitionRollups?> PartitionAsync(NpgsqlDataSource dataSource, string clientId, CancellationToken cancellationToken) =>
        (await PartitionsAsync(dataSource, clientId, [this], cancellationToken)).SingleOrDefault();

    /// <summary>The state of a client's partitions of the object models with rollups, and of their rollups (<see cref="ForClient"/>).</summary>
    public static Task<List<PartitionRollups>> PartitionsAsync(NpgsqlDataSource dataSource, string clientId, ClientConfig? config, CancellationToken cancellationToken) =>
        PartitionsAsync(dataSource, clientId, ForClient(config).Values, cancellationToken);

    private static async Task<List<PartitionRollups>> PartitionsAsync(
        NpgsqlDataSource dataSource, string clientId, IEnumerable<TermRollups> rollups, CancellationToken cancellationToken)
    {
        var byModel = rollups.ToDictionary(r => r.Model.Code, StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand(
            $$"""
            SELECT p.object_model, p.last_sequence, p.rolled_up_through, p.rollups_reset_at, now() - p.rollups_reset_at,
                   c.terms, c.froms, c.throughs
            FROM ingest.partitions AS p
            LEFT JOIN LATERAL (SELECT array_agg(c.term) AS terms, array_agg(c.from_sequence) AS froms, array_agg(coalesce(c.covered_through, -1)) AS throughs
                               FROM query.rollup_terms AS c WHERE c.client_id = $1 AND c.object_model = p.object_model) AS c ON true
            WHERE p.client_id = $1 AND p.object_model = ANY($2)
            ORDER BY p.object_model
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = byModel.Keys.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var partitions = new List<PartitionRollups>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var model = reader.GetString(0);
            var rolledUpThrough = reader.GetInt64(2);
            var recorded = new Dictionary<long, (long From, long Through)>();
            if (!reader.IsDBNull(5))
            {
                var (terms, froms, throughs) = (reader.GetFieldValue<long[]>(5), reader.GetFieldValue<long[]>(6), reader.GetFieldValue<long[]>(7));
                for (var i = 0; i < terms.Length; i++)
                {
                    recorded.Add(terms[i], (froms[i], throughs[i]));
                }
            }

            partitions.Add(new PartitionRollups(
                model,
                reader.GetInt64(1),
                rolledUpThrough,
                byModel[model].MissingRows(rolledUpThrough, recorded),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<TimeSpan>(4)));
        }

        return partitions;
    }

    /// <summary>
    /// Empties a client's rollups of this object model and moves its watermark back to the start, under the
    /// partition's lock, in one short transaction: roll-ups then add every stored row again, pass by pass
    /// (<see cref="RollUpAsync"/>). Queries stay exact meanwhile, reading raw what is not rolled up yet.
    /// </summary>
    public Task ResetAsync(NpgsqlDataSource dataSource, string clientId, CancellationToken cancellationToken) =>
        InPatientTransactionAsync(dataSource, async (connection, transaction) =>
        {
            await using var reset = new NpgsqlBatch(connection, transaction) { Timeout = PassTimeoutSeconds };
            foreach (var sql in new[]
                     {
                         // The ingest grain's lock: no batch of this partition commits until the reset does.
                         """
                         INSERT INTO ingest.partitions (client_id, object_model, last_sequence, rollups_reset_at) VALUES ($1, $2, 0, now())
                         ON CONFLICT (client_id, object_model) DO UPDATE SET rolled_up_through = 0, rollups_reset_at = now()
                         """,
                         "DELETE FROM query.term_rollups WHERE client_id = $1 AND object_model = $2",
                         "DELETE FROM query.dimension_rollups WHERE client_id = $1 AND object_model = $2",
                         "DELETE FROM query.rollup_terms WHERE client_id = $1 AND object_model = $2",
                     })
            {
                reset.BatchCommands.Add(Command(sql, clientId, Model.Code));
            }

            return await reset.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// Rebuilds a client's rollups of this object model from all its stored rows (<see cref="ResetAsync"/>, then
    /// passes of <paramref name="rowsPerPass"/> until the watermark reaches the partition's end).
    /// </summary>
    public async Task RebuildAsync(NpgsqlDataSource dataSource, string clientId, long rowsPerPass, CancellationToken cancellationToken)
    {
        await ResetAsync(dataSource, clientId, cancellationToken);
        while ((await RollUpAsync(dataSource, clientId, rowsPerPass, cancellationToken)).Remaining > 0)
        {
        }
    }

    /// <summary>
    /// One pass of bringing every coverage of this release (<see cref="CoverageId"/>) to hold every rolled-up row of a
    /// client's partition: the at most <paramref name="maxRows"/> rows before the first sequence of the coverages that
    /// start latest are added to their rollups alone, and those coverages then start that much earlier. Queries read a
    /// coverage's rollups only once it starts at row 1, so every other term and dimension of the partition is still
    /// read from rollups meanwhile.
    /// </summary>
    /// <remarks>
    /// A coverage the partition has no record of (a term or dimension new to it) starts right after the watermark, as
    /// the next roll-up would start it. One that stops short of the watermark (a roll-up by another release left its
    /// term out, so rollups of later rows may hold it while its coverage cannot say which) cannot be continued: its
    /// rollups are deleted and it starts afresh, unless the partition's were deleted less than
    /// <paramref name="restartSpacing"/> ago (two releases side by side during a rolling deploy would otherwise undo
    /// each other's work over and over). Runs under the partition's lock, as a roll-up does, so that neither adds rows
    /// the other has.
    /// </remarks>
    public async Task<BackfillPass> BackfillAsync(
        NpgsqlDataSource dataSource, string clientId, long maxRows, TimeSpan restartSpacing, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        return await InPatientTransactionAsync(
            dataSource,
            (connection, transaction) => BackfillLockedAsync(connection, transaction, clientId, maxRows, restartSpacing, cancellationToken),
            cancellationToken);
    }

    private async Task<BackfillPass> BackfillLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string clientId, long maxRows, TimeSpan restartSpacing, CancellationToken cancellationToken)
    {
        if (await LockPartitionAsync(connection, transaction, clientId, cancellationToken) is not { RolledUpThrough: > 0 and var watermark } partition)
        {
            return default; // no row rolled up yet: the first roll-up starts every coverage from row 1
        }

        var recorded = new Dictionary<long, (long From, long Through)>();
        await using (var read = new NpgsqlCommand(
            "SELECT term, from_sequence, covered_through FROM query.rollup_terms WHERE client_id = $1 AND object_model = $2 AND term = ANY($3)",
            connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Model.Code });
            read.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = _coverages.Select(c => c.Id).ToArray() });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                recorded.Add(reader.GetInt64(0), (reader.GetInt64(1), reader.IsDBNull(2) ? 0 : reader.GetInt64(2)));
            }
        }

        await using var write = new NpgsqlBatch(connection, transaction) { Timeout = PassTimeoutSeconds };
        var stopped = _coverages.Where(c => recorded.TryGetValue(c.Id, out var r) && r.Through != watermark).ToArray();
        var restarted = stopped.Length > 0 && !(partition.SinceRestart < restartSpacing) ? stopped : [];
        if (restarted.Length > 0)
        {
            foreach (var delete in DeleteCoverages(clientId, restarted.Select(c => (c.Id, c.TermId, c.Dimension)).ToArray()))
            {
                write.BatchCommands.Add(delete);
            }

            write.BatchCommands.Add(Command(
                "UPDATE ingest.partitions SET rollups_reset_at = now() WHERE client_id = $1 AND object_model = $2", clientId, Model.Code));
            foreach (var coverage in restarted)
            {
                recorded.Remove(coverage.Id);
            }
        }

        var started = _coverages.Where(c => !recorded.ContainsKey(c.Id)).ToArray();
        if (started.Length > 0)
        {
            write.BatchCommands.Add(Command(
                """
                INSERT INTO query.rollup_terms (client_id, object_model, term, state_key, from_sequence, covered_through)
                SELECT $1, $2, k.term, k.state_key, $3 + 1, $3 FROM unnest($4::bigint[], $5::text[]) AS k(term, state_key)
                """,
                clientId, Model.Code, watermark, started.Select(c => c.Id).ToArray(), started.Select(c => c.Key).ToArray()));
            foreach (var coverage in started)
            {
                recorded.Add(coverage.Id, (watermark + 1, watermark));
            }
        }

        // The coverages that hold every row from some first sequence through the watermark, but not from row 1.
        var pending = _coverages.Where(c => recorded[c.Id] is var r && r.Through == watermark && r.From > 1).ToArray();
        var pass = new BackfillPass(0, 0, restarted.Length, restarted.Length < stopped.Length ? restartSpacing - partition.SinceRestart : null);
        if (pending.Length > 0)
        {
            var first = pending.Max(c => recorded[c.Id].From);
            var latest = pending.Where(c => recorded[c.Id].From == first).ToArray();
            var from = Math.Max(1, first - maxRows);
            var literals = new List<object>();
            write.BatchCommands.Add(WriteCommand(UpsertSql(latest, literals, backfill: true), literals, latest, clientId, from, first - 1));
            var others = pending.Where(c => recorded[c.Id].From < first).Select(c => recorded[c.Id].From - 1);
            pass = pass with { Rows = first - from, Remaining = others.Append(from - 1).Max() };
        }

        if (write.BatchCommands.Count > 0)
        {
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        return pass;
    }

    /// <summary>
    /// Deletes the rollups no release writes any more: the coverages of terms and dimensions this release does not
    /// roll up (a custom KPI removed, a term of the catalog an earlier release had) that stop short of the watermark
    /// and that no roll-up or backfill has written for <paramref name="abandonedAfter"/> (<c>written_at</c>), with
    /// their rollups. Queries never read such a coverage (it does not reach the watermark); one dropped and wanted
    /// again (a custom KPI defined anew, a rollback) is backfilled from scratch. Returns how many were dropped.
    /// </summary>
    public async Task<int> DropAbandonedAsync(NpgsqlDataSource dataSource, string clientId, TimeSpan abandonedAfter, CancellationToken cancellationToken) =>
        await InPatientTransactionAsync(dataSource, async (connection, transaction) =>
        {
            if (await LockPartitionAsync(connection, transaction, clientId, cancellationToken) is not { RolledUpThrough: > 0 and var watermark })
            {
                return 0;
            }

            var abandoned = new List<(long Coverage, long Term, string? Dimension)>();
            await using (var read = new NpgsqlCommand(
                """
                SELECT c.term, c.state_key FROM query.rollup_terms AS c
                WHERE c.client_id = $1 AND c.object_model = $2 AND c.term <> ALL($3) AND c.covered_through < $4 AND c.written_at < now() - $5
                """,
                connection, transaction))
            {
                read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
                read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Model.Code });
                read.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = _coverages.Select(c => c.Id).ToArray() });
                read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = watermark });
                read.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = abandonedAfter });
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    if (RollupsOf(reader.GetInt64(0), reader.GetString(1)) is { } rollups)
                    {
                        abandoned.Add((reader.GetInt64(0), rollups.Term, rollups.Dimension));
                    }
                }
            }

            if (abandoned.Count == 0)
            {
                return 0;
            }

            await using var drop = new NpgsqlBatch(connection, transaction) { Timeout = PassTimeoutSeconds };
            foreach (var delete in DeleteCoverages(clientId, abandoned.ToArray()))
            {
                drop.BatchCommands.Add(delete);
            }

            await drop.ExecuteNonQueryAsync(cancellationToken);
            return abandoned.Count;
        }, cancellationToken);

    /// <summary>
    /// The statements that delete <paramref name="coverages"/> of a client's partition with their rollups: a term's in
    /// total by its id, a term's per value of a dimension by the pair.
    /// </summary>
    private NpgsqlBatchCommand[] DeleteCoverages(string clientId, (long Coverage, long Term, string? Dimension)[] coverages)
    {
        var perValue = coverages.Where(c => c.Dimension is not null).ToArray();
        return
        [
            Command("DELETE FROM query.term_rollups WHERE client_id = $1 AND object_model = $2 AND term = ANY($3)",
                clientId, Model.Code, coverages.Where(c => c.Dimension is null).Select(c => c.Term).ToArray()),
            Command(
                """
                DELETE FROM query.dimension_rollups AS r USING unnest($3::text[], $4::bigint[]) AS s(dimension, term)
                WHERE r.client_id = $1 AND r.object_model = $2 AND r.dimension = s.dimension AND r.term = s.term
                """,
                clientId, Model.Code, perValue.Select(c => c.Dimension!).ToArray(), perValue.Select(c => c.Term).ToArray()),
            Command("DELETE FROM query.rollup_terms WHERE client_id = $1 AND object_model = $2 AND term = ANY($3)",
                clientId, Model.Code, coverages.Select(c => c.Coverage).ToArray()),
        ];
    }

    /// <summary>
    /// Which rollups a coverage this release does not know holds, by its recorded key (<see cref="Coverage.Key"/>):
    /// a term's per value of a dimension ("term by dimension": a dimension's code is a plain name, which no term's key
    /// ends with), or a term's in total; null for a key that does not give back the coverage's id.
    /// </summary>
    internal static (long Term, string? Dimension)? RollupsOf(long coverageId, string key)
    {
        var by = key.LastIndexOf(" by ", StringComparison.Ordinal);
        var (term, dimension) = by > 0 ? (key[..by], key[(by + 4)..]) : (key, "");
        if (dimension.Length > 0 && dimension.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && CoverageId(term, dimension) == coverageId)
        {
            return (CoverageId(term, null), dimension);
        }

        return CoverageId(key, null) == coverageId ? (coverageId, null) : null;
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }

    /// <summary>
    /// A pass of a million rows, or a reset of a year of rollups, takes seconds; one running far longer (a server
    /// under strain) holds the partition's lock from its batches all the while, so it is given up and tried again.
    /// </summary>
    private const int PassTimeoutSeconds = 60;

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction of its own and commits it (unless told not to: a trial). The
    /// transaction waits at most a few seconds for a lock (the partition's, held by an ingest transaction, or by a
    /// writer that is gone until the server ends its session): the caller tries again later.
    /// </summary>
    private static async Task<T> InPatientTransactionAsync<T>(
        NpgsqlDataSource dataSource, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken, bool commit = true)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var patience = new NpgsqlCommand("SET LOCAL lock_timeout = '3s'", connection, transaction))
        {
            await patience.ExecuteNonQueryAsync(cancellationToken);
        }

        var result = await work(connection, transaction);
        if (commit)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return result;
    }

    /// <summary>
    /// Locks the partition's row, then rolls up the rows between its watermark and its end and moves the watermark.
    /// </summary>
    /// <remarks>
    /// The lock is taken in a statement of its own. Every ingest transaction advances (and so locks) that row until it
    /// commits; once the lock is granted, every row up to <c>last_sequence</c> has committed, and the next statement,
    /// with a snapshot of its own under READ COMMITTED, sees them all. A second writer (a duplicate activation during
    /// a failover, or a rebuild) waits on the lock and then finds the watermark moved, so no row is added twice.
    /// </remarks>
    private async Task<RollUpPass> RollUpLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string clientId, long maxRows, CancellationToken cancellationToken)
    {
        if (await LockPartitionAsync(connection, transaction, clientId, cancellationToken) is not { } partition)
        {
            return default;
        }

        var (from, end) = (partition.RolledUpThrough + 1, partition.LastSequence);
        if (end < from)
        {
            return default;
        }

        var through = end - from < maxRows ? end : from + maxRows - 1;

        var watermark = Command("UPDATE ingest.partitions SET rolled_up_through = $3 WHERE client_id = $1 AND object_model = $2", clientId, Model.Code, through);
        await using var write = new NpgsqlBatch(connection, transaction) { BatchCommands = { WriteCommand(_upsert, _literals, _coverages, clientId, from, through), watermark }, Timeout = PassTimeoutSeconds };
        await write.ExecuteNonQueryAsync(cancellationToken);
        return new RollUpPass(through - from + 1, end - through);
    }

    /// <summary>
    /// Locks the partition's row until the transaction ends (the lock every ingest transaction and roll-up takes) and
    /// reads its watermark, its end and how long ago rollups of it were last restarted; null if it has no row.
    /// </summary>
    private async Task<(long RolledUpThrough, long LastSequence, TimeSpan? SinceRestart)?> LockPartitionAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string clientId, CancellationToken cancellationToken)
    {
        await using var lockRow = new NpgsqlCommand(
            """
            SELECT rolled_up_through, last_sequence, now() - rollups_reset_at
            FROM ingest.partitions WHERE client_id = $1 AND object_model = $2 FOR UPDATE
            """,
            connection, transaction);
        lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Model.Code });
        await using var reader = await lockRow.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<TimeSpan>(2))
            : null;
    }

    /// <summary>
    /// The statement that adds the rows <c>$2..$3</c> of client <c>$1</c>'s partition to the rollups of
    /// <paramref name="coverages"/>, and records them as rolled up: forward, from right after each coverage's last
    /// sequence (<c>covered_through</c>); in a <paramref name="backfill"/>, back from right before its first
    /// (<c>from_sequence</c>).
    /// </summary>
    /// <remarks>
    /// The new rows are read once: their states per shortest slot and combination of dimension values (<c>f</c>, a few
    /// thousand groups however many rows), which are then added up per slot of every length, in total and per value of
    /// each dimension (<c>g</c>, grouping sets), since every rolled-up state adds up from parts. Where only some of
    /// the terms are written in total or per a dimension's value (a backfill), the others are left out by id.
    /// </remarks>
    private string UpsertSql(IReadOnlyList<Coverage> coverages, List<object> literals, bool backfill)
    {
        const int fixedParameters = 3; // $1 client, $2 first sequence, $3 last sequence
        var terms = coverages.Select(c => c.Term).OfType<AggregateTerm>().Distinct().ToArray();
        var dimensions = coverages.Select(c => c.Dimension).OfType<string>().Distinct().ToArray();
        var rows = new KpiSqlCompiler.RowSql(Model, literals, fixedParameters);
        var time = $"t.{KpiSqlCompiler.Quote(Model.EventTimeField)}";
        var perRow = new StringBuilder($"count(*) AS c0, max((extract(epoch FROM {time}) * 1000000)::float8) AS x0");
        var addedUp = new StringBuilder("sum(f.c0)::bigint AS c0, max(f.x0) AS x0");
        var values = new StringBuilder("(0::bigint, NULL::float8, s.c0, NULL::float8, s.x0)");
        for (var i = 0; i < terms.Length; i++)
        {
            var state = KpiSqlCompiler.StateSql(terms[i], rows);
            var n = i + 1;
            perRow.Append($",\n           {state.Sum ?? "NULL::float8"} AS s{n}, {state.Count ?? "0::bigint"} AS c{n}, {state.Min ?? "NULL::float8"} AS l{n}, {state.Max ?? "NULL::float8"} AS h{n}");
            addedUp.Append($",\n           sum(f.s{n}) AS s{n}, sum(f.c{n})::bigint AS c{n}, min(f.l{n}) AS l{n}, max(f.h{n}) AS h{n}");
            values.Append($", ({IdOf(terms[i].StateKey)}, s.s{n}, s.c{n}, s.l{n}, s.h{n})");
        }

        // The terms written in total, or per a dimension's value, where that is not every term of the statement.
        string Written(string? dimension)
        {
            var written = coverages.Where(c => c.Dimension == dimension).Select(c => c.TermId).ToArray();
            return written.Length == terms.Length + 1 ? "" : $" AND v.term IN ({string.Join(", ", written)})";
        }

        var inTotalWritten = coverages.Any(c => c.Dimension is null);
        var keys = $"${fixedParameters + literals.Count + 1}::bigint[]";
        var names = $"${fixedParameters + literals.Count + 2}::text[]";
        var code = KpiSqlCompiler.Literal(Model.Code);
        var slots = "ARRAY[" + string.Join(", ", SlotMinutes) + "]";
        var shortest = SlotMinutes.Min(); // every other slot length is a multiple of it

        // The dimension values as drill-downs key them, v0, v1, ...; g.k0, k1, ... say which one a row of g is per.
        var valueColumns = string.Concat(dimensions.Select((d, j) => $", {KpiSqlCompiler.DimensionKey($"t.{KpiSqlCompiler.Quote(d)}")} AS v{j}"));
        var fineGroups = string.Join(", ", Enumerable.Range(1, dimensions.Length + 1));
        var groupingSets = dimensions.Select((_, j) => $"(f.v{j})").Prepend(inTotalWritten ? "()" : null).OfType<string>();
        var grouping = dimensions.Length == 0 ? "GROUP BY 1, 2" : $"GROUP BY 1, 2, GROUPING SETS ({string.Join(", ", groupingSets)})";
        var perValue = string.Concat(dimensions.Select((_, j) => $", f.v{j}, grouping(f.v{j}) AS k{j}"));
        var perTerm = $"CROSS JOIN LATERAL (VALUES {values}) AS v(term, sum, count, min, max)";
        const string someState = "(v.count > 0 OR v.min IS NOT NULL OR v.max IS NOT NULL)";
        const string added = """
            sum = coalesce(r.sum + excluded.sum, r.sum, excluded.sum),
                count = r.count + excluded.count,
                min = least(r.min, excluded.min),
                max = greatest(r.max, excluded.max)
            """;
        var byDimension = new StringBuilder();
        for (var j = 0; j < dimensions.Length; j++)
        {
            byDimension.Append(
                $"""
                ,
                d{j} AS (
                    INSERT INTO query.dimension_rollups AS r (client_id, object_model, dimension, term, slot_minutes, slot_start, value, sum, count, min, max)
                    SELECT $1, {code}, {KpiSqlCompiler.Literal(dimensions[j])}, v.term, s.slot_minutes, s.slot_start, s.v{j}, v.sum, v.count, v.min, v.max
                    FROM g AS s {perTerm}
                    WHERE s.k{j} = 0 AND s.slot_minutes IN ({string.Join(", ", DimensionSlotMinutes)}) AND {someState}{Written(dimensions[j])}
                    ON CONFLICT (client_id, object_model, dimension, term, slot_minutes, slot_start, value) DO UPDATE SET
                        {added})
                """);
        }

        // A forward roll-up records a coverage it starts (a term or dimension new to the partition, or rows never
        // rolled up) and moves on the one it continues; one that does not continue it (another release's roll-up left
        // the term out in between) stays behind the watermark. A backfill moves a coverage's first sequence back.
        // A coverage that comes to start at row 1 records the newest segment of the model archived so far, read in the
        // same snapshot as the rows: its rollups hold the rows of every segment archived after it (ArchiveReadPlan).
        // Archival moves only rows rolled up already, as it saw them in its snapshot; should a pass find that rows of
        // its range have left all the same (a move that saw the partition before its rollups were reset or first
        // written, and committed between two passes), it records their segment as not held either.
        var segments = $"FROM archive.segments AS a WHERE a.client_id = $1 AND a.data_kind = 'source' AND a.source = {code}";
        var newest = $"(SELECT coalesce(max(a.segment_id), 0) {segments})";
        var leftFromRange = $"(SELECT max(a.segment_id) {segments} AND a.sequences && int8multirange(int8range($2, $3, '[]')))";
        // Unknown (null: not whole yet, or made whole by a release that did not record it) stays unknown.
        var raised = $"CASE WHEN c.whole_after_segment IS NOT NULL THEN greatest(c.whole_after_segment, {leftFromRange}) END";
        var covered = backfill
            ? $"""
              UPDATE query.rollup_terms AS c SET from_sequence = $2, written_at = now(),
                  whole_after_segment = CASE WHEN $2 = 1 THEN {newest} ELSE {raised} END
              FROM unnest({keys}, {names}) AS k(term, state_key)
              WHERE c.client_id = $1 AND c.object_model = {code} AND c.term = k.term AND c.state_key = k.state_key AND c.from_sequence = $3 + 1
              """
            : $"""
              INSERT INTO query.rollup_terms AS c (client_id, object_model, term, state_key, from_sequence, covered_through, whole_after_segment)
              SELECT $1, {code}, k.term, k.state_key, $2, $3, CASE WHEN $2 = 1 THEN {newest} END
              FROM unnest({keys}, {names}) AS k(term, state_key)
              ON CONFLICT (client_id, object_model, term) DO UPDATE SET covered_through = excluded.covered_through, written_at = now(),
                  whole_after_segment = {raised}
              WHERE c.covered_through = $2 - 1
              """;

        // The rows of g in total: every dimension added up (grouping 1), or no dimension at all.
        var inTotal = string.Join(" AND ", dimensions.Select((_, j) => $"s.k{j} = 1").Append(someState));
        var last = inTotalWritten
            ? $"""
              INSERT INTO query.term_rollups AS r (client_id, object_model, term, slot_minutes, slot_start, sum, count, min, max)
              SELECT $1, {code}, v.term, s.slot_minutes, s.slot_start, v.sum, v.count, v.min, v.max
              FROM g AS s {perTerm}
              WHERE {inTotal}{Written(null)}
              ON CONFLICT (client_id, object_model, term, slot_minutes, slot_start) DO UPDATE SET
                  {added}
              """
            : "SELECT"; // every write is a CTE above, and PostgreSQL runs each even when nothing reads it

        return $"""
            WITH f AS (
                SELECT date_bin(interval '{shortest} minutes', {time}, {SlotOrigin}) AS slot_start{valueColumns},
                       {perRow}
                FROM {QualifiedTable} AS t
                WHERE t.client_id = $1 AND t.sequence BETWEEN $2 AND $3
                GROUP BY {fineGroups}),
            g AS (
                SELECT m.minutes AS slot_minutes, date_bin(make_interval(mins => m.minutes), f.slot_start, {SlotOrigin}) AS slot_start{perValue},
                       {addedUp}
                FROM f CROSS JOIN unnest({slots}) AS m(minutes)
                {grouping}),
            covered AS (
                {covered}){byDimension}
            {last}
            """;
    }
}

/// <summary>What one roll-up pass did: the rows it added to the rollups, and how many of the partition's rows still wait.</summary>
internal readonly record struct RollUpPass(long Rows, long Remaining);

/// <summary>What one backfill pass did (<see cref="TermRollups.BackfillAsync"/>).</summary>
/// <param name="Rows">The rows it added to the rollups of the coverages that started latest.</param>
/// <param name="Remaining">
/// The most rows a coverage of this release still misses, of those it can backfill; 0 when every one holds every
/// rolled-up row, or waits for its restart (<paramref name="RestartIn"/>).
/// </param>
/// <param name="Restarted">The coverages whose rollups it deleted, to start them afresh.</param>
/// <param name="RestartIn">How long until coverages a roll-up left out may restart, if some wait for that.</param>
internal readonly record struct BackfillPass(long Rows, long Remaining, int Restarted, TimeSpan? RestartIn = null);

/// <summary>A client's partition of one object model, and how far its rollups hold its rows.</summary>
/// <param name="LastSequence">The partition's last committed sequence: its rows are 1 through it.</param>
/// <param name="RolledUpThrough">The watermark: rows up to it are in the rollups.</param>
/// <param name="MissingRows">
/// The most rolled-up rows some term or dimension of this release misses (added after the partition's first rows,
/// or left out by another release's roll-up): queries read it raw until it is backfilled
/// (<see cref="TermRollups.BackfillAsync"/>), which counts this down to 0 (one a roll-up left out misses them all
/// until it restarts). Rows never rolled up miss nothing: the next roll-up starts from the first.
/// </param>
/// <param name="RestartedAt">When rollups of some term or dimension were last deleted to be backfilled afresh, if ever.</param>
/// <param name="SinceRestart">How long ago that was, by the database's clock.</param>
internal sealed record PartitionRollups(
    string ObjectModel, long LastSequence, long RolledUpThrough, long MissingRows, DateTimeOffset? RestartedAt, TimeSpan? SinceRestart)
{
    /// <summary>Whether some term or dimension of this release misses rolled-up rows.</summary>
    public bool MissesRows => MissingRows > 0;
}
