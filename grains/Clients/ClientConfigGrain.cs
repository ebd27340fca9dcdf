using Orleans.Concurrency;
using System.Text.RegularExpressions;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi;
using NodaTime;

namespace AnalyticsEngine.Clients;

/// <summary>Owns one client's configuration; the only writer of its row in <c>config.clients</c>.</summary>
public sealed partial class ClientConfigGrain(ClientConfigStore store) : Grain, IClientConfigGrain
{
    private ClientConfig? _config;
    private bool _loaded;

    public async Task<ClientConfig?> Get()
    {
        if (!_loaded)
        {
            _config = await store.FindAsync(this.GetPrimaryKeyString());
            _loaded = true;
        }

        return _config;
    }

    public async Task<IReadOnlyList<string>> Put(ClientConfig config)
    {
        var clientId = this.GetPrimaryKeyString();
        var problems = Validate(clientId, config);
        if (problems.Count > 0)
        {
            return problems;
        }

        var current = await Get();
        var stored = config with { ClientId = clientId, Version = (current?.Version ?? 0) + 1 };
        await store.SaveAsync(stored);
        _config = stored;

        // The KPI set or time zone may have changed: the client's computation rebuilds itself.
        await GrainFactory.GetGrain<IClientKpiGrain>(clientId).Reconfigure();
        return [];
    }

    /// <summary>Checks a configuration; each problem names the field it is about.</summary>
    public static List<string> Validate(string clientId, ClientConfig config)
    {
        var problems = new List<string>();
        if (!ClientIdPattern().IsMatch(clientId))
        {
            problems.Add("clientId: must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit");
        }

        if (string.IsNullOrWhiteSpace(config.Name) || config.Name.Length > 200)
        {
            problems.Add("name: is required and at most 200 characters");
        }

        if (DateTimeZoneProviders.Tzdb.GetZoneOrNull(config.TimeZone ?? "") is null)
        {
            problems.Add($"timeZone: '{config.TimeZone}' is not an IANA time zone id (e.g. 'Europe/Berlin')");
        }

        var custom = (config.CustomKpis ?? []).Select(k => k.Code).ToHashSet(StringComparer.Ordinal);
        foreach (var code in config.SelectedKpis ?? [])
        {
            if (BuiltInCatalog.FindKpi(code) is null && !custom.Contains(code))
            {
                problems.Add($"selectedKpis: '{code}' is neither a catalog KPI nor one of the client's custom KPIs");
            }
        }

        return problems;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex ClientIdPattern();
}

/// <summary>Lists clients straight from the store; any silo can answer.</summary>
[StatelessWorker]
public sealed class ClientDirectoryGrain(ClientConfigStore store) : Grain, IClientDirectoryGrain
{
    public Task<IReadOnlyList<ClientConfig>> List() => store.ListAsync();
}
