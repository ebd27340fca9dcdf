using AnalyticsEngine.Clients;

namespace AnalyticsEngine.Proposals;

/// <summary>The service proposal's questionnaire for a set of KPIs, every choice priced from the <see cref="PriceList"/>.</summary>
public static class QuestionnaireBuilder
{
    /// <summary>The questionnaire for <paramref name="kpiCodes"/> (the client's selected KPIs when null), or the problems with them.</summary>
    public static QuestionnaireOutcome Build(IReadOnlyList<string>? kpiCodes, ClientConfig? client, PriceList? prices = null)
    {
        prices ??= PriceList.Standard;
        var problems = new List<string>();
        if (ProposalScope.Resolve(kpiCodes, client, problems) is not { } scope || problems.Count > 0)
        {
            return new QuestionnaireOutcome(null, problems);
        }

        return new QuestionnaireOutcome(
            new ProposalQuestionnaire(
                client?.ClientId,
                [.. scope.Kpis.Select(k => new QuestionnaireKpi(k.Definition.Code, k.Definition.Name, k.Custom, k.ValueChains, k.DefaultComplexity))],
                scope.ValueChains,
                [.. prices.LicenseTerms.Select(t => new LicenseTermChoice(t.Years, t.AnnualPerChain, prices.DiscountPercent(t.AnnualPerChain)))],
                [.. scope.ObjectModels.Select(m => new QuestionnaireObjectModel(m.Model.Code, m.Model.Name, m.Kpis))],
                [.. Enum.GetValues<IntegrationMethod>().Select(m => Integration(m, prices))],
                [.. Enum.GetValues<KpiComplexity>().Select(c => Complexity(c, prices))],
                [.. Enum.GetValues<HostingPlatform>().Select(p => Platform(p, prices))],
                Retention,
                new ManagedServicesChoice(prices.SupportRetainer, prices.SupportRetainerHours, prices.SupportHourlyRate)),
            []);
    }

    private static IntegrationChoice Integration(IntegrationMethod method, PriceList prices)
    {
        var description = method switch
        {
            IntegrationMethod.BatchConformed => "data already in the object model's shape",
            IntegrationMethod.BatchNonConformedSingleSource => "one source system's data, transformed",
            IntegrationMethod.BatchNonConformedMultiSource => "several source systems' data, merged and transformed",
            IntegrationMethod.BatchEntityResolution => "records de-duplicated and matched across sources",
            IntegrationMethod.StreamingApiArchitected => "a documented API with a clear schema",
            _ => "a legacy API to reverse-engineer (time and materials)",
        };
        var label = $"{ProposalLabels.Of(method)}: {description}";
        return prices.Integration(method) is { } price
            ? new IntegrationChoice(method, label, price.Price, null, null)
            : new IntegrationChoice(method, label, null, prices.ArchitectHourlyRate, PriceList.NonArchitectedApiHours);
    }

    private static ComplexityChoice Complexity(KpiComplexity complexity, PriceList prices)
    {
        var description = complexity switch
        {
            KpiComplexity.Otb => "the catalog KPI as it is",
            KpiComplexity.CustomBasic => "a simple change or custom formula",
            KpiComplexity.Rbac => "rows filtered by the viewer's role",
            _ => "hierarchical access (time and materials)",
        };
        var label = $"{ProposalLabels.Of(complexity)}: {description}";
        return prices.Kpi(complexity) is { } price
            ? new ComplexityChoice(complexity, label, price.Price, null, null)
            : new ComplexityChoice(complexity, label, null, prices.ArchitectHourlyRate, PriceList.DynamicRbacHours);
    }

    private static PlatformChoice Platform(HostingPlatform platform, PriceList prices) => platform == HostingPlatform.None
        ? new PlatformChoice(platform, ProposalLabels.Of(platform) + ": the client's existing environment", null, null)
        : new PlatformChoice(platform, ProposalLabels.Of(platform) + ": set up by a cloud architect (time and materials)", prices.ArchitectHourlyRate, PriceList.PlatformSetupHours);

    private static RetentionQuestions Retention { get; } = new(
        [Days(30), Days(90, recommended: true), Days(180), Days(365)],
        [Years(1), Years(3), Years(5, recommended: true), Years(7), Years(10), Indefinitely()],
        [Days(90), Days(180), Days(365, recommended: true), Days(730)],
        [Years(3), Years(5, recommended: true), Years(7), Years(10), Indefinitely()],
        RetentionRules.RecommendedGranularity,
        [.. Enum.GetValues<ComplianceRegime>().Select(r => new ComplianceChoice(r, ProposalLabels.Of(r), RetentionRules.MinimumYears(r)))]);

    private static PeriodChoice Days(int days, bool recommended = false) =>
        new(days, RetentionUnit.Days, $"{days} days", recommended);

    private static PeriodChoice Years(int years, bool recommended = false) =>
        new(years, RetentionUnit.Years, years == 1 ? "1 year" : $"{years} years", recommended);

    private static PeriodChoice Indefinitely() => new(null, RetentionUnit.Indefinite, "Indefinitely", false);
}
