namespace AnalyticsEngine.Clients;

/// <summary>
/// What a new configuration does to the client's live series: the KPIs it computes differently (a changed formula,
/// or another time zone, which moves every bucket), and the KPIs it no longer computes, each with the reason a
/// dashboard shows. Viewers of the first are sent the rebuilt series; viewers of the second are told it ended.
/// </summary>
/// <param name="Redefined">Selected before and after, and computed differently now.</param>
/// <param name="Ended">Selected before and not after, with why.</param>
public sealed record KpiDefinitionChanges(IReadOnlyList<string> Redefined, IReadOnlyList<(string KpiCode, string Reason)> Ended)
{
    public bool IsEmpty => Redefined.Count == 0 && Ended.Count == 0;

    public static KpiDefinitionChanges Between(ClientConfig before, ClientConfig after)
    {
        var zoneChanged = !ZoneIds.Same(before.TimeZone, after.TimeZone);
        var stillSelected = (after.SelectedKpis ?? []).ToHashSet(StringComparer.Ordinal);
        List<string> redefined = [];
        List<(string, string)> ended = [];
        foreach (var code in (before.SelectedKpis ?? []).Distinct(StringComparer.Ordinal))
        {
            if (!stillSelected.Contains(code))
            {
                ended.Add((code, WasDeleted(before, after, code)
                    ? $"KPI '{code}' was deleted from client '{after.ClientId}'."
                    : $"KPI '{code}' is no longer selected for client '{after.ClientId}'."));
            }
            else if (zoneChanged || !string.Equals(ClientKpis.Find(before, code)?.Formula, ClientKpis.Find(after, code)?.Formula, StringComparison.Ordinal))
            {
                redefined.Add(code);
            }
        }

        return new KpiDefinitionChanges(redefined, ended);
    }

    private static bool WasDeleted(ClientConfig before, ClientConfig after, string code) =>
        (before.CustomKpis ?? []).Any(k => k.Code == code) && (after.CustomKpis ?? []).All(k => k.Code != code);
}
