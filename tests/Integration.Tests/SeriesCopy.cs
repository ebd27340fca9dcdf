using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A dashboard's copy of one series, kept exactly as docs/streaming-api.md tells clients to, plus every value it
/// was ever sent, so a test can check that nothing arrived twice and that the copy ends equal to the server.
/// </summary>
public sealed class SeriesCopy
{
    private readonly Lock _gate = new();
    private readonly Dictionary<DateTimeOffset, KpiValue> _buckets = [];
    private readonly List<KpiValue> _received = [];

    public void ApplySnapshot(KpiSnapshot snapshot)
    {
        var values = snapshot.Recent.ToList();
        if (snapshot.Current is { } current && !values.Any(v => v.BucketStart == current.BucketStart))
        {
            values.Add(current);
        }

        ApplyPush(values);
    }

    /// <summary>A pushed value replaces its bucket only if newer: pushes can repeat or overtake each other.</summary>
    public void ApplyPush(IEnumerable<KpiValue> values)
    {
        lock (_gate)
        {
            foreach (var value in values)
            {
                _received.Add(value);
                if (!_buckets.TryGetValue(value.BucketStart, out var held) || KpiVersions.IsNewer(value, held))
                {
                    _buckets[value.BucketStart] = value;
                }
            }
        }
    }

    /// <summary>A resume answer is the server's state: it replaces whatever the copy held, and expired buckets go.</summary>
    public void ApplyResume(KpiResume resume)
    {
        lock (_gate)
        {
            foreach (var value in resume.Changed)
            {
                _received.Add(value);
                _buckets[value.BucketStart] = value;
            }

            foreach (var start in resume.Expired)
            {
                _buckets.Remove(start);
            }
        }
    }

    /// <summary>Adds a value as if it had been received, e.g. one the server has long forgotten.</summary>
    public void Hold(KpiValue value)
    {
        lock (_gate)
        {
            _buckets[value.BucketStart] = value;
        }
    }

    public KpiBucketVersion[] Held()
    {
        lock (_gate)
        {
            return [.. _buckets.Values.OrderBy(v => v.BucketStart).Select(KpiBucketVersion.Of)];
        }
    }

    public KpiValue? Get(DateTimeOffset bucketStart)
    {
        lock (_gate)
        {
            return _buckets.GetValueOrDefault(bucketStart);
        }
    }

    public Dictionary<DateTimeOffset, KpiValue> Buckets()
    {
        lock (_gate)
        {
            return new Dictionary<DateTimeOffset, KpiValue>(_buckets);
        }
    }

    /// <summary>Values received more than once: same bucket, revision and finality.</summary>
    public List<string> Duplicates()
    {
        lock (_gate)
        {
            return [.. _received
                .GroupBy(KpiBucketVersion.Of)
                .Where(g => g.Count() > 1)
                .Select(g => $"{g.Key.BucketStart:O} r{g.Key.Revision}{(g.Key.IsFinal ? " final" : "")} ×{g.Count()}")];
        }
    }

    public int ReceivedCount
    {
        get { lock (_gate) { return _received.Count; } }
    }

    /// <summary>
    /// Where the copy differs from the server's <paramref name="server"/> values (which must cover every bucket the
    /// copy holds), and which of the server's <paramref name="window"/> the copy lacks; empty when equal.
    /// </summary>
    public List<string> DifferencesFrom(IReadOnlyDictionary<DateTimeOffset, KpiValue> server, IEnumerable<DateTimeOffset> window)
    {
        var differences = new List<string>();
        var copy = Buckets();
        foreach (var (start, value) in copy)
        {
            if (!server.TryGetValue(start, out var expected))
            {
                differences.Add($"{start:O}: held but unknown to the server");
            }
            // A bucket no event reached is not announced when it turns final (docs/streaming-api.md): one held from a
            // snapshot may turn final on the server meanwhile, and the copy rightly still holds it as it was sent.
            else if ((value.Revision, value.IsFinal || value.Revision == 0, value.Value, value.EventCount)
                     != (expected.Revision, expected.IsFinal || expected.Revision == 0, expected.Value, expected.EventCount))
            {
                differences.Add($"{start:O}: r{value.Revision} {value.Value} n={value.EventCount} final={value.IsFinal}, server r{expected.Revision} {expected.Value} n={expected.EventCount} final={expected.IsFinal}");
            }
        }

        differences.AddRange(window.Where(start => !copy.ContainsKey(start)).Select(start => $"{start:O}: missing"));
        return differences;
    }
}
