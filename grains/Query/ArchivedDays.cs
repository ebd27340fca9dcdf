using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using Npgsql;

namespace AnalyticsEngine.Query;

/// <summary>
/// A query over days that may be archived, and its client's archive: what the query tells the archive before it runs
/// (<see cref="Ask"/>), what its rollups hold of the archived rows (<see cref="WholeAfterAsync"/>, read by the archive
/// when the query reaches some), and the check, in the query's own snapshot, that they still hold what it leaves in
/// the archive (<see cref="CheckAsync"/>).
/// </summary>
internal static class ArchivedDays
{
    /// <summary>
    /// What a query tells the archive: the object models it reads through rollups, each with the coverages of those
    /// rollups, the others as read raw, and where it reads raw rows anyway (the edges no whole slot covers).
    /// </summary>
    public static ArchiveQuery Ask(CompiledFormula formula, string? dimension, long[] boundaries, bool useRollups)
    {
        var (from, to) = (TimeTicks.ToDateTimeOffset(boundaries[0]), TimeTicks.ToDateTimeOffset(boundaries[^1]));
        var ranges = RollupRanges.Split(boundaries, TermRollups.SlotMinutesFor(dimension));
        var assumed = RollupSource.AssumingCovered(ranges, formula, dimension);
        bool ThroughRollups(string model) => useRollups && assumed.Covers(formula, BuiltInCatalog.ObjectModelsByCode[model], dimension);
        return new ArchiveQuery(
            from,
            to,
            formula.ObjectModels.Select(m => new ObjectModelRead(m, ThroughRollups(m) ? RollupSource.CoverageIds(formula, m, dimension) : null)).ToArray(),
            ranges.Raw.Select(r => new ArchivedRange(TimeTicks.ToDateTimeOffset(r.From), TimeTicks.ToDateTimeOffset(r.To))).ToArray());
    }

    /// <summary>
    /// <paramref name="covered"/> without the coverages of the object models the archive said the query must read raw:
    /// it put all their archived rows back and left their rollups out of its reckoning (they may have come to hold every
    /// row since, but not the archived rows).
    /// </summary>
    public static IReadOnlySet<(string ObjectModel, long Term)> WithoutRawRowModels(IReadOnlySet<(string ObjectModel, long Term)> covered, ArchiveAccess? access) =>
        access is { RawRowModels.Count: > 0 } ? covered.Where(c => !access.RawRowModels.Contains(c.ObjectModel)).ToHashSet() : covered;

    /// <summary>The raw ranges of <paramref name="access"/> in ticks, for <see cref="RollupRanges.Split"/>.</summary>
    public static RollupRanges.TickRange[] RawTicks(ArchiveAccess? access) =>
        access?.RawRanges.Select(r => new RollupRanges.TickRange(TimeTicks.Of(r.From), TimeTicks.Of(r.To))).ToArray() ?? [];

    /// <summary>
    /// Throws <see cref="ArchivedRowsNotBackException"/> unless, in the snapshot the query's statement is about to run
    /// in (on <paramref name="connection"/>), every object model with archived segments the archive left out reads
    /// them correctly: through rollups that hold them, or, where it reads raw rows, with their rows back.
    /// </summary>
    /// <remarks>
    /// The archive decided from what the rollups held before it was asked; since then a rebuild of an object model's
    /// rollups (or a term dropped from them) may have changed which archived rows they hold, or, had the query's hold
    /// lapsed, a run may have deleted more rollup slots. Rare, and the query then starts again, reading raw rows only.
    /// </remarks>
    public static async Task CheckAsync(
        NpgsqlConnection connection, ArchiveAccess access, string clientId, CompiledFormula formula, string? dimension, RollupSource? rollups,
        CancellationToken cancellationToken)
    {
        if (access.ThroughRollups.Count == 0)
        {
            return;
        }

        var readThroughRollups = access.ThroughRollups
            .Where(t => rollups?.Covers(formula, BuiltInCatalog.ObjectModelsByCode[t.ObjectModel], dimension) == true)
            .Select(t => new ObjectModelRead(t.ObjectModel, RollupSource.CoverageIds(formula, t.ObjectModel, dimension)))
            .ToArray();
        var wholeAfter = new Dictionary<string, long>(StringComparer.Ordinal);
        if (readThroughRollups.Length > 0)
        {
            // What the rollups hold, and before when runs deleted slots, in one round trip.
            var needed = Needed(readThroughRollups);
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands = { WholeAfterCommand(clientId, needed), new NpgsqlBatchCommand(SegmentIndex.RollupsDeletedBeforeSql) },
            };
            batch.BatchCommands[1].Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            wholeAfter = await ReadWholeAfterAsync(reader, needed, cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken)
                && new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero) is var deleted && !(deleted <= access.RollupsDeletedBefore))
            {
                throw new ArchivedRowsNotBackException(readThroughRollups[0].ObjectModel);
            }
        }

        foreach (var archived in access.ThroughRollups)
        {
            var holds = readThroughRollups.Any(r => r.ObjectModel == archived.ObjectModel)
                ? wholeAfter.TryGetValue(archived.ObjectModel, out var whole) && whole < archived.FirstSegment
                : archived.RowsBack;
            if (!holds)
            {
                throw new ArchivedRowsNotBackException(archived.ObjectModel);
            }
        }
    }

    /// <summary>
    /// Per object model of <paramref name="reads"/> read through rollups whose coverages all hold every row (from row 1
    /// through the watermark), the most of their <c>whole_after_segment</c>: the rollups hold the rows of every later
    /// segment. A model missing from the answer has some coverage that does not hold every row, or does not say since when.
    /// </summary>
    public static async Task<Dictionary<string, long>> WholeAfterAsync(
        NpgsqlDataSource dataSource, string clientId, IReadOnlyList<ObjectModelRead> reads, CancellationToken cancellationToken)
    {
        var needed = Needed(reads);
        if (needed.Length == 0)
        {
            return new Dictionary<string, long>(StringComparer.Ordinal);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { WholeAfterCommand(clientId, needed) } };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadWholeAfterAsync(reader, needed, cancellationToken);
    }

    /// <summary>The coverages <paramref name="reads"/> read through rollups, by object model.</summary>
    private static (string Model, long Id)[] Needed(IEnumerable<ObjectModelRead> reads) =>
        reads.SelectMany(r => (r.RollupCoverages ?? []).Select(id => (r.ObjectModel, id))).ToArray();

    private static NpgsqlBatchCommand WholeAfterCommand(string clientId, (string Model, long Id)[] needed)
    {
        var command = new NpgsqlBatchCommand(
            $"""
            SELECT k.object_model, count(*), max(c.whole_after_segment)
            FROM unnest($2::text[], $3::bigint[]) AS k(object_model, term)
            JOIN query.rollup_terms AS c ON c.client_id = $1 AND c.object_model = k.object_model AND c.term = k.term
            JOIN ingest.partitions AS p ON p.client_id = $1 AND p.object_model = k.object_model
            WHERE {TermRollups.CoversEveryRolledUpRow} AND c.whole_after_segment IS NOT NULL
            GROUP BY k.object_model
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = needed.Select(n => n.Model).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = needed.Select(n => n.Id).ToArray() });
        return command;
    }

    /// <summary>Reads <see cref="WholeAfterCommand"/>'s answer: models some of whose coverages are missing are left out.</summary>
    private static async Task<Dictionary<string, long>> ReadWholeAfterAsync(NpgsqlDataReader reader, (string Model, long Id)[] needed, CancellationToken cancellationToken)
    {
        var wholeAfter = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var model = reader.GetString(0);
            if (reader.GetInt64(1) == needed.Count(n => n.Model == model))
            {
                wholeAfter[model] = reader.GetInt64(2);
            }
        }

        return wholeAfter;
    }
}

/// <summary>
/// A query would read archived rows of <see cref="ObjectModel"/> that neither its rollups hold nor the active tables
/// have back (<see cref="ArchivedDays.CheckAsync"/>): it must start again, reading raw rows only.
/// </summary>
internal sealed class ArchivedRowsNotBackException(string objectModel)
    : Exception($"The rollups of '{objectModel}' no longer hold the archived rows the query was to read through them.")
{
    public string ObjectModel { get; } = objectModel;
}
