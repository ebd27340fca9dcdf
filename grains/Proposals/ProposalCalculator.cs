using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;

namespace AnalyticsEngine.Proposals;

/// <summary>
/// Prices the questionnaire's answers (<see cref="ProposalRequest"/>) as a service proposal: licensing per value chain
/// and term, the statement of work, infrastructure, managed services, totals and schedule. Every problem with the
/// answers is reported with the field it is in, and nothing is priced until there are none.
/// </summary>
public static class ProposalCalculator
{
    public const int MaxTextLength = 200;
    public const decimal MaxEstimatedHours = 10_000m;
    public const decimal MaxSupportHours = 100_000m;

    private static readonly DateOnly EarliestDate = new(2000, 1, 1);

    /// <param name="request">The answers.</param>
    /// <param name="client">The client <see cref="ProposalRequest.ClientId"/> names, if it does.</param>
    /// <param name="today">The date of a proposal whose answers give none.</param>
    /// <param name="prices">The price list (the standard one when not given).</param>
    public static ProposalOutcome Calculate(ProposalRequest request, ClientConfig? client, DateOnly today, PriceList? prices = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        prices ??= PriceList.Standard;
        var problems = new List<string>();
        var annualPerChain = prices.AnnualLicenseFor(request.LicenseTermYears);
        if (annualPerChain is null)
        {
            problems.Add($"licenseTermYears: choose a term of {string.Join(", ", prices.LicenseTerms.Select(t => t.Years))} years");
        }

        var clientName = request.ClientName ?? client?.Name;
        if (string.IsNullOrWhiteSpace(clientName) || clientName.Length > MaxTextLength || clientName.Any(char.IsControl))
        {
            problems.Add($"clientName: give the client's name, 1 to {MaxTextLength} characters on one line{(client is null ? "" : "; or leave it out for the client's own")}");
        }

        var date = request.Date ?? today;
        if (date < EarliestDate || date > DateOnly.MaxValue.AddDays(-PriceList.ValidDays))
        {
            problems.Add($"date: give a date from {EarliestDate:yyyy-MM-dd} to {DateOnly.MaxValue.AddDays(-PriceList.ValidDays):yyyy-MM-dd}");
        }

        var scope = ProposalScope.Resolve(request.KpiCodes, client, problems);
        var extraChains = ValueChainsAskedFor(request.ValueChains, problems);
        var retention = RetentionRules.Apply(request.Retention, problems);
        problems.AddRange(InfrastructureSizing.Problems(request.Infrastructure));
        var managed = ManagedServices(request.ManagedServices, problems, prices);
        var environment = Environment(request.Environment, problems, prices);
        var integration = scope is null ? null : DataIntegration(request.DataSources, scope, problems, prices);
        var kpis = scope is null ? null : KpiImplementation(request.Kpis, scope, problems, prices);
        if (problems.Count > 0)
        {
            return new ProposalOutcome(null, problems);
        }

        var licensing = Licensing(scope!, extraChains, request.LicenseTermYears, annualPerChain!.Value, prices);
        var timeAndMaterials = integration!.Value.TimeAndMaterials.Concat(kpis!.Value.TimeAndMaterials).ToList();
        var timeAndMaterialsTotal = timeAndMaterials.Aggregate(MoneyRange.Exactly(0), (sum, item) => sum + item.Cost);
        var dataIntegrationTotal = integration.Value.Lines.Sum(l => l.Cost ?? 0);
        var kpiImplementationTotal = kpis.Value.Lines.Sum(l => l.Cost ?? 0);
        var fixedCostTotal = dataIntegrationTotal + kpiImplementationTotal + environment!.Cost;
        var implementation = new ProposalImplementation(
            integration.Value.Lines, dataIntegrationTotal, kpis.Value.Lines, kpiImplementationTotal, environment,
            timeAndMaterials, timeAndMaterialsTotal, fixedCostTotal, timeAndMaterialsTotal + fixedCostTotal);

        var infrastructure = InfrastructureSizing.Estimate(request.Infrastructure!, retention!.StagedSourceData, request.LicenseTermYears, prices);
        var recurring = licensing.AnnualTotal + infrastructure.Annual + managed!.AnnualTotal;
        var year1 = implementation.Total + recurring;
        var totals = new ProposalTotals(year1, recurring, year1 + (request.LicenseTermYears - 1) * recurring);

        var (timeline, resources) = EngagementSchedule.Plan(
            environment.CloudArchitectHours,
            integration.Value.DeveloperHours,
            kpis.Value.DeveloperHours,
            architectForIntegration: integration.Value.TimeAndMaterials.Count > 0,
            architectForKpis: kpis.Value.TimeAndMaterials.Count > 0,
            prices.ArchitectHourlyRate);

        return new ProposalOutcome(
            new ServiceProposal(
                client?.ClientId, clientName!, date, date.AddDays(PriceList.ValidDays), PriceList.Currency, licensing, implementation,
                infrastructure, managed, retention, totals, resources, timeline),
            []);
    }

    private static ProposalLicensing Licensing(ProposalScope scope, IReadOnlyList<string> extraChains, int termYears, decimal annualPerChain, PriceList prices)
    {
        var needed = scope.ValueChains;
        IReadOnlyList<LicensedValueChain> chains =
        [
            .. BuiltInCatalog.ValueChains
                .Where(c => needed.Any(n => n.Code == c.Code) || extraChains.Contains(c.Code))
                .Select(c => needed.FirstOrDefault(n => n.Code == c.Code) ?? new LicensedValueChain(c.Code, c.Name, [])),
        ];
        var annual = chains.Count * annualPerChain;
        return new ProposalLicensing(chains, termYears, annualPerChain, prices.DiscountPercent(annualPerChain), annual, annual * termYears);
    }

    private static IReadOnlyList<string> ValueChainsAskedFor(IReadOnlyList<string>? codes, List<string> problems)
    {
        var chains = new List<string>();
        for (var i = 0; i < (codes?.Count ?? 0); i++)
        {
            if (BuiltInCatalog.FindValueChain(codes![i] ?? "") is { } chain)
            {
                chains.Add(chain.Code);
            }
            else
            {
                problems.Add($"valueChains[{i}]: '{codes[i]}' is not a value chain; the catalog's are {string.Join(", ", BuiltInCatalog.ValueChains.Select(c => c.Code))}");
            }
        }

        return chains;
    }

    private static (IReadOnlyList<IntegrationLine> Lines, IReadOnlyList<TimeAndMaterialsItem> TimeAndMaterials, decimal DeveloperHours)? DataIntegration(
        IReadOnlyList<DataSourceAnswer>? answers, ProposalScope scope, List<string> problems, PriceList prices)
    {
        var before = problems.Count;
        var lines = new List<IntegrationLine>();
        var timeAndMaterials = new List<TimeAndMaterialsItem>();
        var developerHours = 0m;
        var required = scope.ObjectModels;
        for (var i = 0; i < (answers?.Count ?? 0); i++)
        {
            var answer = answers![i];
            var field = $"dataSources[{i}]";
            var model = BuiltInCatalog.FindObjectModel(answer?.ObjectModel ?? "");
            if (answer is null || model is null)
            {
                problems.Add($"{field}.objectModel: '{answer?.ObjectModel}' is not an object model of the catalog");
                continue;
            }

            if (lines.Any(l => l.ObjectModel == model.Code))
            {
                problems.Add($"{field}.objectModel: '{model.Code}' is answered twice; give one integration per object model");
                continue;
            }

            if (!Enum.IsDefined(answer.Integration))
            {
                problems.Add($"{field}.integration: is not an integration method");
                continue;
            }

            CheckText(answer.SourceSystem, $"{field}.sourceSystem", problems);
            var kpis = required.FirstOrDefault(r => r.Model.Code == model.Code).Kpis ?? [];
            if (prices.Integration(answer.Integration) is { } price)
            {
                if (answer.EstimatedHours is not null)
                {
                    problems.Add($"{field}.estimatedHours: {Json(answer.Integration)} is a fixed price; estimated hours go with streamingApiNonArchitected only");
                }

                developerHours += price.Hours;
                lines.Add(new IntegrationLine(model.Code, model.Name, answer.SourceSystem, answer.Integration, kpis, price.Price));
            }
            else if (CheckHours(answer.EstimatedHours ?? PriceList.NonArchitectedApiHours, $"{field}.estimatedHours", problems) is { } hours)
            {
                lines.Add(new IntegrationLine(model.Code, model.Name, answer.SourceSystem, answer.Integration, kpis, null));
                var source = answer.SourceSystem is null ? "" : $" ({answer.SourceSystem})";
                timeAndMaterials.Add(TimeAndMaterials($"API/non-architected integration: {model.Name}{source}", hours, prices));
            }
        }

        foreach (var (model, kpis) in required.Where(r => !lines.Any(l => l.ObjectModel == r.Model.Code)))
        {
            if (!answers?.Any(a => string.Equals(a?.ObjectModel, model.Code, StringComparison.OrdinalIgnoreCase)) ?? true)
            {
                problems.Add($"dataSources: '{model.Code}' (read by {string.Join(", ", kpis)}) has no answer; say how its data is integrated");
            }
        }

        return problems.Count > before ? null : (lines, timeAndMaterials, developerHours);
    }

    private static (IReadOnlyList<KpiImplementationLine> Lines, IReadOnlyList<TimeAndMaterialsItem> TimeAndMaterials, decimal DeveloperHours)? KpiImplementation(
        IReadOnlyList<KpiComplexityAnswer>? answers, ProposalScope scope, List<string> problems, PriceList prices)
    {
        var before = problems.Count;
        var complexities = new Dictionary<string, (KpiComplexity Complexity, HoursEstimate? Hours, string Field)>(StringComparer.Ordinal);
        for (var i = 0; i < (answers?.Count ?? 0); i++)
        {
            var answer = answers![i];
            var field = $"kpis[{i}]";
            if (answer is null || scope.Find(answer.KpiCode ?? "") is not { } kpi)
            {
                problems.Add($"{field}.kpiCode: '{answer?.KpiCode}' is not one of the proposal's KPIs");
            }
            else if (complexities.ContainsKey(kpi.Definition.Code))
            {
                problems.Add($"{field}.kpiCode: '{kpi.Definition.Code}' is answered twice");
            }
            else if (!Enum.IsDefined(answer.Complexity))
            {
                problems.Add($"{field}.complexity: is not a KPI complexity");
            }
            else if (answer.Complexity == KpiComplexity.Otb && kpi.Custom)
            {
                problems.Add($"{field}.complexity: '{kpi.Definition.Code}' is the client's own KPI; out of the box is for catalog KPIs");
            }
            else if (answer.EstimatedHours is not null && answer.Complexity != KpiComplexity.DynamicRbac)
            {
                problems.Add($"{field}.estimatedHours: {Json(answer.Complexity)} is a fixed price; estimated hours go with dynamicRbac only");
            }
            else
            {
                complexities[kpi.Definition.Code] = (answer.Complexity, answer.EstimatedHours, field);
            }
        }

        var lines = new List<KpiImplementationLine>();
        var timeAndMaterials = new List<TimeAndMaterialsItem>();
        var developerHours = 0m;
        foreach (var kpi in scope.Kpis)
        {
            var (complexity, estimate, field) = complexities.GetValueOrDefault(kpi.Definition.Code, (kpi.DefaultComplexity, null, "kpis"));
            var price = prices.Kpi(complexity);
            lines.Add(new KpiImplementationLine(kpi.Definition.Code, kpi.Definition.Name, kpi.Custom, complexity, price?.Price));
            if (price is not null)
            {
                developerHours += price.Hours;
            }
            else if (CheckHours(estimate ?? PriceList.DynamicRbacHours, $"{field}.estimatedHours", problems) is { } hours)
            {
                timeAndMaterials.Add(TimeAndMaterials($"Dynamic RBAC KPI: {kpi.Definition.Code} {kpi.Definition.Name}", hours, prices));
            }
        }

        return problems.Count > before ? null : (lines, timeAndMaterials, developerHours);
    }

    private static EnvironmentSetup? Environment(EnvironmentAnswer? answer, List<string> problems, PriceList prices)
    {
        var platform = answer?.Platform ?? HostingPlatform.None;
        if (!Enum.IsDefined(platform))
        {
            problems.Add("environment.platform: is not a platform");
            return null;
        }

        if (platform == HostingPlatform.None)
        {
            if (answer?.CloudArchitectHours is not null)
            {
                problems.Add("environment.cloudArchitectHours: there is nothing to set up without a platform; leave it out or name the platform");
                return null;
            }

            return new EnvironmentSetup(platform, 0, prices.ArchitectHourlyRate, 0);
        }

        var hours = answer?.CloudArchitectHours ?? PriceList.DefaultPlatformSetupHours;
        if (hours < PriceList.PlatformSetupHours.Min || hours > PriceList.PlatformSetupHours.Max)
        {
            problems.Add($"environment.cloudArchitectHours: a platform's setup takes {PriceList.PlatformSetupHours.Min:0} to {PriceList.PlatformSetupHours.Max:0} hours by its complexity; it is {hours}");
            return null;
        }

        return new EnvironmentSetup(platform, hours, prices.ArchitectHourlyRate, PriceList.Cents(hours * prices.ArchitectHourlyRate));
    }

    private static ManagedServicesEstimate? ManagedServices(ManagedServicesAnswer? answer, List<string> problems, PriceList prices)
    {
        var retainer = answer?.Retainer ?? false;
        var hours = answer?.AdditionalHours ?? 0;
        if (hours is < 0 or > MaxSupportHours)
        {
            problems.Add($"managedServices.additionalHours: give 0 to {MaxSupportHours:N0} hours a year");
            return null;
        }

        if (hours > 0 && !retainer)
        {
            problems.Add("managedServices.additionalHours: support hours beyond the retainer come with it; set retainer to true, or give 0 hours");
            return null;
        }

        var additional = PriceList.Cents(hours * prices.SupportHourlyRate);
        var fee = retainer ? prices.SupportRetainer : 0;
        return new ManagedServicesEstimate(fee, retainer ? prices.SupportRetainerHours : 0, hours, prices.SupportHourlyRate, additional, fee + additional);
    }

    private static TimeAndMaterialsItem TimeAndMaterials(string description, HoursEstimate hours, PriceList prices) =>
        new(description, hours, prices.ArchitectHourlyRate,
            new MoneyRange(PriceList.Cents(hours.Min * prices.ArchitectHourlyRate), PriceList.Cents(hours.Max * prices.ArchitectHourlyRate)));

    private static HoursEstimate? CheckHours(HoursEstimate hours, string field, List<string> problems)
    {
        if (hours.Min <= 0 || hours.Min > hours.Max || hours.Max > MaxEstimatedHours)
        {
            problems.Add($"{field}: give min and max hours with 0 < min <= max <= {MaxEstimatedHours:N0}");
            return null;
        }

        return hours;
    }

    /// <summary>A choice as the answers spell it (<c>batchConformed</c>).</summary>
    private static string Json<T>(T choice) where T : struct, Enum => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(choice.ToString());

    private static void CheckText(string? text, string field, List<string> problems)
    {
        if (text is not null && (text.Length is 0 or > MaxTextLength || text.Any(char.IsControl)))
        {
            problems.Add($"{field}: give 1 to {MaxTextLength} characters on one line");
        }
    }
}
