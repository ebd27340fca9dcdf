using System.Collections.Concurrent;

namespace AnalyticsEngine.Query;

/// <summary>
/// Which clients' partitions the last query found quiet and rolled up to the end: no rows committed for
/// <see cref="QuietFor"/>, none after the watermark. A query whose statement goes with its snapshot is written before
/// it reads that, and leaves out the rows after the watermark of such a partition; it is dropped, and runs again, if
/// the snapshot finds rows there after all (KpiQueryRunner).
/// </summary>
/// <remarks>
/// A dropped statement costs a round trip and the statement's reads (0.1–10 ms); leaving the part out saves about
/// 20 µs of a day's query. So only a partition quiet for longer than clients usually go between batches counts: one
/// whose rows keep coming every few minutes always keeps the part, and a quiet one pays one drop when rows come
/// again. Bounded: emptied when it holds <see cref="MaxKept"/> partitions; unknown means "keep the part".
/// </remarks>
internal static class RolledUpPartitions
{
    internal const int MaxKept = 100_000;

    /// <summary>How long a partition must have committed no rows to count as quiet.</summary>
    internal static readonly TimeSpan QuietFor = TimeSpan.FromMinutes(10);

    private static readonly ConcurrentDictionary<(string Client, string Model), bool> Found = new();

    /// <summary>The object models of <paramref name="models"/> whose partition the client's last query found quiet and rolled up to the end.</summary>
    public static HashSet<string> Expected(string clientId, IReadOnlyList<string> models)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var model in models)
        {
            if (Found.TryGetValue((clientId, model), out var quiet) && quiet)
            {
                expected.Add(model);
            }
        }

        return expected;
    }

    /// <summary>Records what a query's snapshot found (written only where it changed).</summary>
    public static void Record(string clientId, QuerySnapshot.Sources sources)
    {
        foreach (var position in sources.Positions)
        {
            var key = (clientId, position.ObjectModel);
            var quiet = sources.RolledUpToTheEnd.Contains(position.ObjectModel) && sources.Quiet.Contains(position.ObjectModel);
            if (Found.TryGetValue(key, out var known))
            {
                if (known != quiet)
                {
                    Found[key] = quiet;
                }
            }
            else if (quiet)
            {
                // Only quiet ones are added (unknown already means "keep the part"); the bound is checked as one is.
                if (Found.Count >= MaxKept)
                {
                    Found.Clear();
                }

                Found[key] = true;
            }
        }
    }
}
