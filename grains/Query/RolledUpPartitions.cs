using System.Collections.Concurrent;

namespace AnalyticsEngine.Query;

/// <summary>
/// Which clients' partitions the last query found rolled up to the end (no row after the watermark). A query whose
/// statement goes with its snapshot is written before it reads that: for what the last query of the client found,
/// and dropped if the snapshot says otherwise (KpiQueryRunner). A client whose rows arrive all day is found with rows
/// after the watermark and keeps the statement that reads them; one that is quiet gets the shorter statement.
/// </summary>
/// <remarks>Bounded: emptied when it holds <see cref="MaxKept"/> partitions; unknown means "not rolled up to the end".</remarks>
internal static class RolledUpPartitions
{
    internal const int MaxKept = 100_000;

    private static readonly ConcurrentDictionary<(string Client, string Model), bool> Found = new();

    /// <summary>The object models of <paramref name="models"/> whose partition the client's last query found rolled up to the end.</summary>
    public static HashSet<string> Expected(string clientId, IReadOnlyList<string> models)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var model in models)
        {
            if (Found.TryGetValue((clientId, model), out var rolledUp) && rolledUp)
            {
                expected.Add(model);
            }
        }

        return expected;
    }

    /// <summary>Records what a query's snapshot found.</summary>
    public static void Record(string clientId, QuerySnapshot.Sources sources)
    {
        if (Found.Count >= MaxKept)
        {
            Found.Clear();
        }

        foreach (var position in sources.Positions)
        {
            Found[(clientId, position.ObjectModel)] = sources.RolledUpToTheEnd.Contains(position.ObjectModel);
        }
    }
}
