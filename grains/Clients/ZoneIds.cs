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
}
