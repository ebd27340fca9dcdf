using NodaTime;
using NodaTime.TimeZones;

namespace AnalyticsEngine.Clients;

/// <summary>
/// Time zone ids as the tz database links them: "Asia/Calcutta" is another name for "Asia/Kolkata", so a client
/// renaming its zone so computes the same buckets.
/// </summary>
public static class ZoneIds
{
    public static string Canonical(string id) => TzdbDateTimeZoneSource.Default.CanonicalIdMap.TryGetValue(id, out var canonical) ? canonical : id;

    public static bool Same(string? a, string? b) =>
        a is not null && b is not null ? Canonical(a) == Canonical(b) : a == b;

    /// <summary>
    /// The zone a client's buckets are cut in, by the stream, the queries and the scheduled runs alike: UTC for a client
    /// that does not exist, and for a stored name the tz database no longer knows (a client's zone is checked when it is
    /// saved, and the database keeps old names as links, so only a damaged configuration has one).
    /// </summary>
    public static DateTimeZone ZoneOf(ClientConfig? config) =>
        config is null ? DateTimeZone.Utc : DateTimeZoneProviders.Tzdb.GetZoneOrNull(config.TimeZone) ?? DateTimeZone.Utc;
}
