using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using Npgsql;

namespace AnalyticsEngine.Query;

/// <summary>
/// A query over days that may be archived, and its client's archive: what the query tells the archive before it runs
/// (<see cref="AskAsync"/>), and the check, in the query's own snapshot, that the rollups it reads still hold the archived
/// rows it leaves in the archive (<see cref="CheckAsync"/>).
/// </summary>
internal static class ArchivedDays
{
    /// <summary>
    /// What a query tells the archive: the object models it reads through rollups, each with the newest archived
    /// segment those rollups may miss (<c>query.rollup_terms.whole_after_segment</c>), the others as read raw, and
    /// where it reads raw rows anyway (the edges no whole slot covers).
    /// </summary>
    public static async Task<ArchiveQuery> AskAsync(
        NpgsqlDataSource dataSource, string clientId, CompiledFormula formula, string? dimension, long[] boundaries, bool useRollups, CancellationToken cancellationToken)
    {
        var (from, to) = (TimeTicks.ToDateTimeOffset(boundaries[0]), TimeTicks.ToDateTimeOffset(boundaries[^1]));
        var ranges = RollupRanges.Split(boundaries, TermRollups.SlotMinutesFor(dimension));
        var assumed = RollupSource.AssumingCovered(ranges, formula, dimension);
        var throughRollups = useRollups
            ? formula.ObjectModels.Where(m => assumed.Covers(formula, BuiltInCatalog.ObjectModelsByCode[m], dimension)).ToArray()
            : [];
        if (throughRollups.Length == 0)
        {
            return ArchiveQuery.RawRowsOnly(from, to, formula.ObjectModels);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var wholeAfter = await WholeAfterAsync(connection, clientId, formula, dimension, throughRollups, cancellationToken);
        return new ArchiveQuery(
            from,
            to,
            formula.ObjectModels.Select(m => new ObjectModelRead(m, wholeAfter.TryGetValue(m, out var whole) ? whole : null)).ToArray(),
            ranges.Raw.Select(r => new ArchivedRange(TimeTicks.ToDateTimeOffset(r.From), TimeTicks.ToDateTimeOffset(r.To))).ToArray());
    }

    /// <summary>
    /// <paramref name="covered"/> without the coverages of the object models the query told the archive it reads raw:
    /// the archive put all their rows back and left their rollups out of its reckoning (they may have come to hold every
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
    /// rollups (or a term dropped from them) may have changed which archived rows they hold. Rare, and the query then
    /// starts again, reading raw rows only.
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
            .Select(t => t.ObjectModel)
            .ToArray();
        var wholeAfter = readThroughRollups.Length == 0
            ? new Dictionary<string, long>(StringComparer.Ordinal)
            : await WholeAfterAsync(connection, clientId, formula, dimension, readThroughRollups, cancellationToken);
        foreach (var archived in access.ThroughRollups)
        {
            var holds = readThroughRollups.Contains(archived.ObjectModel)
                ? wholeAfter.TryGetValue(archived.ObjectModel, out var whole) && whole < archived.FirstSegment
                : archived.RowsBack;
            if (!holds)
            {
                throw new ArchivedRowsNotBackException(archived.ObjectModel);
            }
        }
    }

    /// <summary>
    /// Per object model of <paramref name="models"/> whose rollups the query reads all hold every row (the coverages of
    /// its terms and events, in total or per value of <paramref name="dimension"/>), the most of their
    /// <c>whole_after_segment</c>; models missing from the answer have some coverage that does not.
    /// </summary>
    private static async Task<Dictionary<string, long>> WholeAfterAsync(
        NpgsqlConnection connection, string clientId, CompiledFormula formula, string? dimension, IReadOnlyList<string> models, CancellationToken cancellationToken)
    {
        var needed = models.SelectMany(m => RollupSource.CoverageIds(formula, m, dimension).Select(id => (Model: m, Id: id))).ToArray();
        await using var command = new NpgsqlCommand(
            $"""
            SELECT k.object_model, count(*), max(c.whole_after_segment)
            FROM unnest($2::text[], $3::bigint[]) AS k(object_model, term)
            JOIN query.rollup_terms AS c ON c.client_id = $1 AND c.object_model = k.object_model AND c.term = k.term
            JOIN ingest.partitions AS p ON p.client_id = $1 AND p.object_model = k.object_model
            WHERE {TermRollups.CoversEveryRolledUpRow} AND c.whole_after_segment IS NOT NULL
            GROUP BY k.object_model
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = needed.Select(n => n.Model).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = needed.Select(n => n.Id).ToArray() });
        var wholeAfter = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
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
