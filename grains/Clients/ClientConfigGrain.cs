using Orleans.Concurrency;
using System.Text.RegularExpressions;
using AnalyticsEngine.Batch;
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
        // Each KPI once, as the catalog spells it ("pof" finds POF): the code every read, push and access check uses.
        var selected = config.SelectedKpis.Select(code => ClientKpis.Find(config, code)?.Code ?? code).Distinct(StringComparer.Ordinal).ToList();
        var stored = config with { ClientId = clientId, SelectedKpis = selected, Version = (current?.Version ?? 0) + 1 };
        await store.SaveAsync(stored);
        _config = stored;

        // The KPI set or time zone may have changed: the client's computation rebuilds itself, and then the dashboards
        // watching a KPI it now computes differently, or no longer, are told.
        await GrainFactory.GetGrain<IClientKpiGrain>(clientId).Reconfigure();
        if (current is not null)
        {
            TellWatchers(clientId, KpiDefinitionChanges.Between(current, stored));
            if (!ZoneIds.Same(current.TimeZone, stored.TimeZone))
            {
                await RescheduleJobsAsync(clientId);
            }
        }

        return [];
    }

    public async Task<ClientConfigChange> Update(ClientUpdate update, long? expectedVersion)
    {
        var current = await Get();
        if (expectedVersion is { } expected && (current?.Version ?? 0) != expected)
        {
            return new ClientConfigChange(null, [], current?.Version ?? 0);
        }

        var basis = current ?? new ClientConfig(this.GetPrimaryKeyString(), "", "UTC", [], [], [], 0);
        var problems = await Put(basis with
        {
            Name = update.Name ?? basis.Name,
            TimeZone = update.TimeZone ?? basis.TimeZone,
            SelectedKpis = update.SelectedKpis ?? basis.SelectedKpis,
            FieldMappings = update.FieldMappings ?? basis.FieldMappings,
        });
        return problems.Count > 0 ? new ClientConfigChange(null, problems, null) : new ClientConfigChange(_config, [], null);
    }

    /// <summary>The client's batch jobs run by its local clock: each works out its next due time in the new zone.</summary>
    private async Task RescheduleJobsAsync(string clientId)
    {
        var jobs = await GrainFactory.GetGrain<IBatchJobDirectoryGrain>(0).ListAllOf(clientId);
        await Task.WhenAll(jobs.Where(j => j.Status == BatchJobStatus.Scheduled)
            .Select(j => GrainFactory.GetGrain<IBatchJobGrain>(j.JobId).ClientZoneChanged()));
    }

    /// <summary>
    /// One-way calls: a message lost with a silo is made up for by the gateways, whose next renewal of the watch sees
    /// the series' new definition (or that it is gone) and resets (or ends) it then.
    /// </summary>
    private void TellWatchers(string clientId, KpiDefinitionChanges changes)
    {
        foreach (var code in changes.Redefined)
        {
            GrainFactory.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, code)).Redefined().Ignore();
        }

        foreach (var (code, reason) in changes.Ended)
        {
            GrainFactory.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, code)).Ended(reason).Ignore();
        }
    }

    public async Task<FormulaCheck> PutCustomKpi(KpiDefinition kpi)
    {
        // Named by the request's own fields (code, name, ...), as the caller sent one KPI, not the client's list.
        if (ValidateCustomKpi(kpi, "") is { Count: > 0 } fieldProblems)
        {
            return new FormulaCheck([.. fieldProblems.Select(p => new FormulaProblem(0, 0, p, ""))], []);
        }

        var check = FormulaChecker.Check(kpi.Formula);
        if (!check.IsValid)
        {
            return check;
        }

        var current = await Get() ?? throw new InvalidOperationException($"client '{this.GetPrimaryKeyString()}' does not exist");
        var stored = kpi with { RequiredObjects = check.ObjectModels };
        // A new KPI is selected at once; a changed one stays selected or not, as the client had it.
        var creating = current.CustomKpis.All(k => k.Code != kpi.Code);
        var custom = current.CustomKpis.Where(k => k.Code != kpi.Code).Append(stored).ToList();
        var selected = creating && !current.SelectedKpis.Contains(kpi.Code, StringComparer.Ordinal) ? [.. current.SelectedKpis, kpi.Code] : current.SelectedKpis;
        var problems = await Put(current with { CustomKpis = custom, SelectedKpis = selected });
        return problems.Count == 0 ? check : new FormulaCheck([.. problems.Select(p => new FormulaProblem(0, 0, p, ""))], check.ObjectModels);
    }

    public async Task<bool> DeleteCustomKpi(string kpiCode)
    {
        var current = await Get();
        if (current is null || current.CustomKpis.All(k => k.Code != kpiCode))
        {
            return false;
        }

        await Put(current with
        {
            CustomKpis = current.CustomKpis.Where(k => k.Code != kpiCode).ToList(),
            SelectedKpis = current.SelectedKpis.Where(c => c != kpiCode).ToList(),
        });
        return true;
    }

    /// <summary>Checks a configuration; each problem names the field it is about.</summary>
    public static List<string> Validate(string clientId, ClientConfig config)
    {
        var problems = new List<string>();
        if (!ClientIds.IsWellFormed(clientId))
        {
            problems.Add("clientId: must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit");
        }

        // PostgreSQL cannot store NUL in text or jsonb: refuse it here, whoever calls.
        var texts = new[] { config.Name, config.TimeZone }
            .Concat(config.SelectedKpis ?? [])
            .Concat((config.CustomKpis ?? []).SelectMany(k => new[] { k.Code, k.Name, k.Description, k.Formula, k.Unit, k.Module, k.ValueChain }))
            .Concat((config.FieldMappings ?? []).SelectMany(m => new[] { m.ObjectModel, m.SourceField, m.ModelField }));
        if (texts.Any(t => t?.Contains('\0', StringComparison.Ordinal) == true))
        {
            problems.Add("body: text values must not contain NUL characters");
        }

        if (string.IsNullOrWhiteSpace(config.Name) || config.Name.Length > 200)
        {
            problems.Add("name: is required and at most 200 characters");
        }

        if (DateTimeZoneProviders.Tzdb.GetZoneOrNull(config.TimeZone ?? "") is null)
        {
            problems.Add($"timeZone: '{config.TimeZone}' is not an IANA time zone id (e.g. 'Europe/Berlin')");
        }

        var customKpis = config.CustomKpis ?? [];
        for (var i = 0; i < customKpis.Count; i++)
        {
            problems.AddRange(ValidateCustomKpi(customKpis[i], $"customKpis[{i}]."));
        }

        foreach (var code in config.SelectedKpis ?? [])
        {
            if (ClientKpis.Find(config, code) is null)
            {
                problems.Add($"selectedKpis: '{code}' is neither a catalog KPI nor one of the client's custom KPIs");
            }
        }

        problems.AddRange(ValidateFieldMappings(config.FieldMappings ?? []));
        return problems;
    }

    /// <summary>The longest name a client may give a field in its field mappings.</summary>
    public const int MaxSourceFieldLength = 128;

    /// <summary>
    /// Each mapping names a catalog object model and one of its fields, and a name of the client's own that stands for
    /// that field alone: not another field's name (which would make that field unreadable), and not mapped twice.
    /// </summary>
    private static IEnumerable<string> ValidateFieldMappings(IReadOnlyList<FieldMapping> mappings)
    {
        var mapped = new HashSet<(string, string)>();
        for (var i = 0; i < mappings.Count; i++)
        {
            if (mappings[i] is not { ObjectModel: { } modelCode, SourceField: { } source, ModelField: { } target })
            {
                continue; // a missing part is the API's to report, by its field
            }

            var at = $"fieldMappings[{i}]";
            if (!BuiltInCatalog.ObjectModelsByCode.TryGetValue(modelCode, out var model))
            {
                yield return $"{at}.objectModel: '{modelCode}' is not an object model; they are: {string.Join(", ", BuiltInCatalog.ObjectModelsByCode.Keys.Order(StringComparer.Ordinal))}";
                continue;
            }

            if (model.FindField(target) is null)
            {
                yield return $"{at}.modelField: '{target}' is not a field of '{modelCode}'; its fields are: {string.Join(", ", model.Fields.Select(f => f.Name))}";
            }

            if (source.Length is 0 or > MaxSourceFieldLength || source.Trim().Length != source.Length)
            {
                yield return $"{at}.sourceField: must be 1-{MaxSourceFieldLength} characters without leading or trailing spaces";
            }
            else if (source != target && model.FindField(source) is not null)
            {
                yield return $"{at}.sourceField: '{source}' is the name of another field of '{modelCode}', which would become unreadable";
            }
            else if (!mapped.Add((modelCode, source)))
            {
                yield return $"{at}.sourceField: '{source}' is mapped more than once for '{modelCode}'";
            }
        }
    }

    /// <summary>The longest name a custom KPI may have.</summary>
    public const int MaxKpiNameLength = 200;

    /// <summary>The longest description: a few paragraphs, enough for a tooltip or a help page.</summary>
    public const int MaxKpiDescriptionLength = 2000;

    /// <summary>The longest unit ("%", "EUR", "orders/hour").</summary>
    public const int MaxKpiUnitLength = 32;

    /// <summary>The longest module name, as long as a code.</summary>
    public const int MaxKpiModuleLength = 64;

    /// <summary>Checks one custom KPI's fields; each problem names its field under <paramref name="prefix"/> ("" or "customKpis[2].").</summary>
    public static List<string> ValidateCustomKpi(KpiDefinition kpi, string prefix)
    {
        ArgumentNullException.ThrowIfNull(kpi);
        var problems = new List<string>();
        if (!KpiCodePattern().IsMatch(kpi.Code ?? ""))
        {
            problems.Add($"{prefix}code: '{kpi.Code}' must be 2-64 characters of A-Z, 0-9 and '_', starting with a letter");
        }
        else if (BuiltInCatalog.FindKpi(kpi.Code!) is not null)
        {
            problems.Add($"{prefix}code: '{kpi.Code}' is a catalog KPI; choose another code");
        }

        if (string.IsNullOrWhiteSpace(kpi.Name) || kpi.Name.Length > MaxKpiNameLength)
        {
            problems.Add($"{prefix}name: is required and at most {MaxKpiNameLength} characters");
        }

        void Cap(string field, string? value, int max)
        {
            if (value is { } text && text.Length > max)
            {
                problems.Add($"{prefix}{field}: must be at most {max} characters; it has {text.Length}");
            }
        }

        Cap("description", kpi.Description, MaxKpiDescriptionLength);
        Cap("unit", kpi.Unit, MaxKpiUnitLength);
        Cap("module", kpi.Module, MaxKpiModuleLength);
        return problems;
    }

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]{1,63}\z")]
    private static partial Regex KpiCodePattern();
}

/// <summary>Checks formulas against the catalog's object models, with every problem and its position.</summary>
public static class FormulaChecker
{
    public static FormulaCheck Check(string formula)
    {
        var result = Kpi.Formula.KpiFormula.Compile(formula ?? "", BuiltInCatalog.ObjectModelsByCode);
        return new FormulaCheck(
            [.. result.Errors.Select(e => new FormulaProblem(e.Line, e.Column, e.Message, e.Excerpt))],
            result.Formula?.ObjectModels ?? []);
    }
}

/// <summary>Any silo can check a formula; stateless, so reentrant.</summary>
[StatelessWorker]
[Reentrant]
public sealed class FormulaGrain : Grain, IFormulaGrain
{
    public Task<FormulaCheck> Check(string formula) => Task.FromResult(FormulaChecker.Check(formula));

    public async Task<RequiredObjects> AnalyzeRequiredObjects(IReadOnlyList<string> kpiCodes, string? clientId)
    {
        var custom = clientId is null ? null : await GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get();
        var fields = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var kpisByObject = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var unknown = new List<string>();
        foreach (var code in kpiCodes.Distinct(StringComparer.Ordinal))
        {
            var kpi = ClientKpis.Find(custom, code);
            var compiled = kpi is null ? null : Kpi.Formula.KpiFormula.Compile(kpi.Formula, BuiltInCatalog.ObjectModelsByCode).Formula;
            if (compiled is null)
            {
                unknown.Add(code);
                continue;
            }

            foreach (var (objectModel, used) in Kpi.Formula.FieldUsage.Of(compiled.Syntax))
            {
                (fields.TryGetValue(objectModel, out var set) ? set : fields[objectModel] = new(StringComparer.Ordinal)).UnionWith(used);
                (kpisByObject.TryGetValue(objectModel, out var kpis) ? kpis : kpisByObject[objectModel] = new(StringComparer.Ordinal)).Add(code);
            }
        }

        return new RequiredObjects(
            [.. fields.Select(f => new RequiredObject(f.Key, BuiltInCatalog.ObjectModelsByCode[f.Key].Domain, [.. f.Value], [.. kpisByObject[f.Key]]))],
            unknown);
    }
}

/// <summary>Lists clients straight from the store; any silo can answer, and stateless, so reentrant.</summary>
[StatelessWorker]
[Reentrant]
public sealed class ClientDirectoryGrain(ClientConfigStore store) : Grain, IClientDirectoryGrain
{
    public Task<IReadOnlyList<ClientConfig>> List() => store.ListAsync();
}
