using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Proposals;

/// <summary>One KPI a proposal covers, the value chains it needs licensed and the object models it reads.</summary>
internal sealed record ProposalKpi(KpiDefinition Definition, bool Custom, IReadOnlyList<string> ValueChains, IReadOnlyList<string> ObjectModels)
{
    /// <summary>Catalog KPIs are out of the box unless told otherwise; a client's own are custom basic.</summary>
    public KpiComplexity DefaultComplexity => Custom ? KpiComplexity.CustomBasic : KpiComplexity.Otb;
}

/// <summary>
/// What a proposal is about: its KPIs (those given, or the client's selected ones), and from them the value chains to
/// license and the object models to integrate. A catalog KPI needs its own value chain; a client's custom KPI needs the
/// value chains of the object models it reads.
/// </summary>
internal sealed class ProposalScope
{
    public const int MaxKpis = 500;

    private ProposalScope(IReadOnlyList<ProposalKpi> kpis) => Kpis = kpis;

    public IReadOnlyList<ProposalKpi> Kpis { get; }

    /// <summary>The object models the KPIs read, in catalog order, each with the codes of the KPIs that read it.</summary>
    public IReadOnlyList<(ObjectModelDefinition Model, IReadOnlyList<string> Kpis)> ObjectModels =>
        [.. BuiltInCatalog.ObjectModels
            .Select(model => (model, (IReadOnlyList<string>)[.. Kpis.Where(k => k.ObjectModels.Contains(model.Code)).Select(k => k.Definition.Code)]))
            .Where(m => m.Item2.Count > 0)];

    /// <summary>The value chains the KPIs need, in catalog order, each with the codes of the KPIs that need it.</summary>
    public IReadOnlyList<LicensedValueChain> ValueChains =>
        [.. BuiltInCatalog.ValueChains
            .Select(chain => new LicensedValueChain(chain.Code, chain.Name, [.. Kpis.Where(k => k.ValueChains.Contains(chain.Code)).Select(k => k.Definition.Code)]))
            .Where(chain => chain.Kpis.Count > 0)];

    public ProposalKpi? Find(string code) =>
        Kpis.FirstOrDefault(k => string.Equals(k.Definition.Code, code, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The scope of <paramref name="kpiCodes"/>, or of the client's selected KPIs when none are given, with a problem added
    /// for each code that names no KPI (the scope then holds the others, so the answers about them are checked too);
    /// null when there is no list to read.
    /// </summary>
    public static ProposalScope? Resolve(IReadOnlyList<string>? kpiCodes, ClientConfig? client, List<string> problems)
    {
        var before = problems.Count;
        if (kpiCodes is null)
        {
            if (client is null)
            {
                problems.Add("kpiCodes: give the KPIs to propose, or a clientId whose selected KPIs to propose");
            }
            else if (client.SelectedKpis.Count == 0)
            {
                problems.Add($"kpiCodes: client '{client.ClientId}' has no selected KPIs; give the KPIs to propose");
            }

            else if (client.SelectedKpis.Count > MaxKpis)
            {
                problems.Add($"kpiCodes: client '{client.ClientId}' has {client.SelectedKpis.Count} selected KPIs, more than a proposal covers ({MaxKpis}); give the KPIs to propose");
            }

            kpiCodes = client?.SelectedKpis ?? [];
        }
        else if (kpiCodes.Count is 0 or > MaxKpis)
        {
            problems.Add($"kpiCodes: give 1 to {MaxKpis} KPI codes");
        }

        var listUsable = problems.Count == before;
        var kpis = new List<ProposalKpi>();
        for (var i = 0; i < kpiCodes.Count && listUsable; i++)
        {
            var code = kpiCodes[i];
            if (string.IsNullOrWhiteSpace(code))
            {
                problems.Add($"kpiCodes[{i}]: is empty");
            }
            else if (ClientKpis.Find(client, code) is not { } definition
                || KpiFormula.Compile(definition.Formula, BuiltInCatalog.ObjectModelsByCode).Formula is not { } formula)
            {
                problems.Add($"kpiCodes[{i}]: '{code}' is not a catalog KPI{(client is null ? "" : " nor one of the client's custom KPIs")}");
            }
            else if (!kpis.Any(k => k.Definition.Code == definition.Code))
            {
                var custom = BuiltInCatalog.FindKpi(definition.Code) is null;
                IReadOnlyList<string> objectModels = [.. formula.ObjectModels.Order(StringComparer.Ordinal)];
                IReadOnlyList<string> chains = custom
                    ? [.. objectModels.Select(BuiltInCatalog.ValueChainOfObjectModel).Distinct()]
                    : [definition.ValueChain];
                kpis.Add(new ProposalKpi(definition, custom, chains, objectModels));
            }
        }

        return listUsable ? new ProposalScope(kpis) : null;
    }
}
