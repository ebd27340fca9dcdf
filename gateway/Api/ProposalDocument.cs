using System.Globalization;
using System.Text;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// A <see cref="ServiceProposal"/> as the document a client reads, in Markdown: title, executive summary, licensing,
/// the statement of work, infrastructure, managed services, the cost summary, the schedule and the next steps. Amounts
/// are US dollars written the same way in any culture (<c>$65,000</c>, cents only when there are some: <c>$0.10</c>);
/// a range is <c>$27,700 – $32,950</c>. Text that comes from the request or the client's configuration (names, source
/// systems) is escaped, so it can neither break a table nor add formatting, links or HTML.
/// </summary>
public static class ProposalDocument
{
    private const string Dash = "–";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(ServiceProposal proposal)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        var md = new StringBuilder();
        Header(md, proposal);
        Summary(md, proposal);
        Licensing(md, proposal.Licensing);
        Implementation(md, proposal.Implementation);
        Infrastructure(md, proposal.Infrastructure, proposal.Retention);
        ManagedServices(md, proposal.ManagedServices);
        Totals(md, proposal);
        Schedule(md, proposal);
        NextSteps(md, proposal);
        return md.ToString();
    }

    private static void Header(StringBuilder md, ServiceProposal proposal)
    {
        md.Append("# Analytics Engine Service Proposal\n\n");
        md.Append("**Client:** ").Append(Text(proposal.ClientName));
        if (proposal.ClientId is { } clientId)
        {
            md.Append(" (client id `").Append(clientId).Append("`)");
        }

        md.Append("  \n**Date:** ").Append(Date(proposal.Date));
        md.Append("  \n**Valid until:** ").Append(Date(proposal.ValidUntil));
        md.Append("  \n**Currency:** ").Append(Text(proposal.Currency)).Append("\n\n---\n\n");
    }

    private static void Summary(StringBuilder md, ServiceProposal proposal)
    {
        var licensing = proposal.Licensing;
        var totals = proposal.Totals;
        md.Append("## Executive Summary\n\n");
        md.Append("This proposal sets out what it costs to license, implement, host and support the Analytics Engine for ")
            .Append(Text(proposal.ClientName)).Append(": a license for ").Append(Count(licensing.ValueChains.Count, "value chain"))
            .Append(" over ").Append(Count(licensing.TermYears, "year")).Append(", the one-time implementation of ")
            .Append(Count(proposal.Implementation.KpiImplementation.Count, "KPI")).Append(" and ")
            .Append(Count(proposal.Implementation.DataIntegration.Count, "data source"))
            .Append(", the infrastructure to run them, and managed services.\n\n");
        md.Append("The first year comes to ").Append(Range(totals.Year1));
        if (licensing.TermYears > 1)
        {
            md.Append(", each later year to ").Append(Money(totals.YearlyRecurring));
        }

        md.Append(", and the whole ").Append(licensing.TermYears.ToString(Invariant)).Append("-year term to ").Append(Range(totals.TermTotal)).Append('.');
        if (totals.Year1.Min != totals.Year1.Max)
        {
            md.Append(" Where an amount is a range, it holds work priced by time and materials, estimated in hours.");
        }

        md.Append("\n\n---\n\n");
    }

    private static void Licensing(StringBuilder md, ProposalLicensing licensing)
    {
        md.Append("## 1. Licensing\n\n");
        md.Append("**Value chains:** ").Append(Codes(licensing.ValueChains.Select(c => c.Code)))
            .Append(" (").Append(Count(licensing.ValueChains.Count, "chain")).Append(")  \n");
        md.Append("**License term:** ").Append(Count(licensing.TermYears, "year"));
        if (licensing.DiscountPercent > 0)
        {
            md.Append(" (").Append(Number(licensing.DiscountPercent)).Append("% discount on the 1-year rate)");
        }

        md.Append("  \n**Annual cost:** ").Append(Money(licensing.AnnualTotal)).Append("/year (")
            .Append(Money(licensing.AnnualCostPerChain)).Append(" per chain)  \n");
        md.Append("**Total ").Append(licensing.TermYears.ToString(Invariant)).Append("-year cost:** ").Append(Money(licensing.TermTotal)).Append("\n\n");

        if (licensing.ValueChains.Count > 0)
        {
            md.Append("| Value chain | Name | KPIs that need it |\n|---|---|---|\n");
            foreach (var chain in licensing.ValueChains)
            {
                Row(md, Code(chain.Code), Text(chain.Name), chain.Kpis.Count == 0 ? "asked for by name" : Codes(chain.Kpis));
            }

            md.Append('\n');
        }

        md.Append("**Included:**\n\n");
        md.Append("- Unlimited KPIs within the licensed value chains, and every module under them\n");
        md.Append("- Platform access and updates\n");
        md.Append("- Standard support during business hours\n\n---\n\n");
    }

    private static void Implementation(StringBuilder md, ProposalImplementation implementation)
    {
        md.Append("## 2. Implementation – Statement of Work\n\n");

        md.Append("### Data Source Integration\n\n");
        if (implementation.DataIntegration.Count == 0)
        {
            md.Append("No data source integration is part of this proposal.\n\n");
        }
        else
        {
            md.Append("| Object model | Source system | Integration type | KPIs | Cost |\n|---|---|---|---|---:|\n");
            foreach (var line in implementation.DataIntegration)
            {
                Row(md, Text(line.ObjectModelName), line.SourceSystem is { } source ? Text(source) : "—", Label(line.Integration),
                    line.Kpis.Count == 0 ? "—" : Codes(line.Kpis), line.Cost is { } cost ? Money(cost) : "T&M (see below)");
            }

            md.Append('\n');
        }

        md.Append("**Subtotal data integration:** ").Append(Money(implementation.DataIntegrationTotal)).Append("\n\n");

        md.Append("### KPI Implementation\n\n");
        if (implementation.KpiImplementation.Count > 0)
        {
            md.Append("| KPI code | KPI name | Complexity | Cost |\n|---|---|---|---:|\n");
            foreach (var kpi in implementation.KpiImplementation)
            {
                Row(md, Code(kpi.KpiCode), Text(kpi.KpiName) + (kpi.Custom ? " (custom)" : ""), Label(kpi.Complexity),
                    kpi.Cost is { } cost ? Money(cost) : "T&M (see below)");
            }

            md.Append('\n');
        }

        md.Append("**Subtotal KPI implementation:** ").Append(Money(implementation.KpiImplementationTotal)).Append("\n\n");

        var environment = implementation.Environment;
        var setup = environment.Platform != HostingPlatform.None;
        md.Append("### Environment Setup\n\n");
        md.Append("**Platform:** ").Append(Label(environment.Platform)).Append("  \n");
        md.Append("**Setup required:** ").Append(setup ? "Yes" : "No, the client's existing environment is used").Append("  \n");
        if (setup)
        {
            md.Append("**Cloud architect:** ").Append(Number(environment.CloudArchitectHours)).Append(" hours at ")
                .Append(Money(environment.HourlyRate)).Append("/hr = ").Append(Money(environment.Cost)).Append("  \n");
            md.Append("**Access specialist:** Included  \n");
        }

        md.Append("**Subtotal environment:** ").Append(Money(environment.Cost)).Append("\n\n");

        md.Append("### Time & Materials (T&M) Items\n\n");
        if (implementation.TimeAndMaterials.Count == 0)
        {
            md.Append("No work is priced by time and materials.\n\n");
        }
        else
        {
            md.Append("| Item | Estimated hours | Rate | Estimated cost |\n|---|---:|---:|---:|\n");
            foreach (var item in implementation.TimeAndMaterials)
            {
                Row(md, Text(item.Description), Hours(item.Hours), Money(item.HourlyRate) + "/hr", Range(item.Cost));
            }

            md.Append("\n**T&M range:** ").Append(Range(implementation.TimeAndMaterialsTotal)).Append("\n\n");
        }

        md.Append("**Fixed-price items:** ").Append(Money(implementation.FixedCostTotal)).Append("  \n");
        md.Append("**Total implementation cost:** ").Append(Range(implementation.Total)).Append("\n\n---\n\n");
    }

    private static void Infrastructure(StringBuilder md, InfrastructureEstimate infrastructure, ProposalRetention retention)
    {
        md.Append("## 3. Infrastructure Costs (Annual)\n\n");
        md.Append("Sized for ").Append(Number(infrastructure.DailyIngestGb)).Append(" GB of source data a day, ")
            .Append(infrastructure.ConcurrentUsers.ToString("#,##0", Invariant)).Append(" concurrent users and dashboards refreshed ")
            .Append(Label(infrastructure.RefreshPeriod)).Append(".\n\n");

        md.Append("### Compute\n\n");
        foreach (var line in infrastructure.Compute)
        {
            md.Append("- ").Append(Text(line.Tier)).Append(": ").Append(line.Count.ToString(Invariant)).Append(" × ").Append(Text(line.InstanceType))
                .Append(" at ").Append(Money(line.MonthlyPerInstance)).Append("/month = ").Append(Money(line.Monthly)).Append("/month\n");
        }

        Subtotal(md, infrastructure.ComputeMonthly);

        var storage = infrastructure.Storage;
        md.Append("### Storage\n\n");
        md.Append("- Active database: ").Append(Volume(storage.ActiveDatabase)).Append('\n');
        md.Append("- Archived data: ").Append(Volume(storage.ArchivedData)).Append('\n');
        md.Append("- Redis: ").Append(Text(storage.RedisInstanceType)).Append(" = ").Append(Money(storage.RedisMonthly)).Append("/month\n");
        Subtotal(md, storage.Monthly);

        md.Append("### Network\n\n");
        md.Append("- Data transfer: ").Append(Volume(infrastructure.Network)).Append('\n');
        Subtotal(md, infrastructure.Network.Monthly);

        md.Append("**Total infrastructure:** ").Append(Money(infrastructure.Monthly)).Append("/month  \n");
        md.Append("**Total annual infrastructure:** ").Append(Money(infrastructure.Annual)).Append("\n\n");

        md.Append("### Data Retention\n\n");
        md.Append("- Staged source data: ").Append(Retention(retention.StagedSourceData)).Append(" (the storage above is sized for it)\n");
        md.Append("- Analytics data: ").Append(Retention(retention.AnalyticsData)).Append('\n');
        var granularity = retention.Granularity;
        var kept = new[]
        {
            (granularity.RawData, "raw data"), (granularity.MinuteAggregates, "minute"), (granularity.HourlyAggregates, "hourly"),
            (granularity.DailyAggregates, "daily"), (granularity.MonthlyAggregates, "monthly aggregates"),
        }.Where(g => g.Item1).Select(g => g.Item2).ToList();
        md.Append("- Levels of detail kept: ").Append(kept.Count == 0 ? "none" : string.Join(", ", kept)).Append('\n');
        if (retention.Compliance.Count > 0 || retention.OtherCompliance is not null)
        {
            if (retention.Compliance.Count > 0)
            {
                md.Append("- Compliance: ").Append(string.Join(", ", retention.Compliance.Select(Label))).Append('\n');
            }

            if (retention.OtherCompliance is { } other)
            {
                md.Append("- Other compliance requirements (recorded, not applied): ").Append(Text(other)).Append('\n');
            }
        }

        foreach (var note in retention.Notes)
        {
            md.Append("- ").Append(Text(note)).Append('\n');
        }

        md.Append("\n---\n\n");
    }

    private static void ManagedServices(StringBuilder md, ManagedServicesEstimate services)
    {
        md.Append("## 4. Managed Services (Annual)\n\n");
        if (services.AnnualTotal == 0)
        {
            md.Append("No managed services: the client supports the platform itself.\n\n---\n\n");
            return;
        }

        if (services.Retainer > 0)
        {
            md.Append("**Support retainer:** ").Append(Money(services.Retainer)).Append("/year (")
                .Append(Number(services.RetainerHours)).Append(" hours at ").Append(Money(services.HourlyRate)).Append("/hr)  \n");
        }

        md.Append("**Estimated additional hours:** ").Append(Number(services.AdditionalHours)).Append(" hours at ")
            .Append(Money(services.HourlyRate)).Append("/hr = ").Append(Money(services.AdditionalCost)).Append("  \n");
        md.Append("**Total managed services:** ").Append(Money(services.AnnualTotal)).Append("/year\n\n---\n\n");
    }

    private static void Totals(StringBuilder md, ServiceProposal proposal)
    {
        var term = proposal.Licensing.TermYears;
        var totals = proposal.Totals;
        md.Append("## 5. Total Cost Summary\n\n");
        md.Append("### Year 1\n\n");
        md.Append("- Licensing: ").Append(Money(proposal.Licensing.AnnualTotal)).Append('\n');
        md.Append("- Implementation (one-time): ").Append(Range(proposal.Implementation.Total)).Append('\n');
        md.Append("- Infrastructure: ").Append(Money(proposal.Infrastructure.Annual)).Append('\n');
        md.Append("- Managed services: ").Append(Money(proposal.ManagedServices.AnnualTotal)).Append("\n\n");
        md.Append("**Year 1 total:** ").Append(Range(totals.Year1)).Append("\n\n");
        if (term > 1)
        {
            md.Append("### ").Append(term == 2 ? "Year 2" : $"Years 2{Dash}{term.ToString(Invariant)}").Append(" (each year)\n\n");
            md.Append("- Licensing: ").Append(Money(proposal.Licensing.AnnualTotal)).Append('\n');
            md.Append("- Infrastructure: ").Append(Money(proposal.Infrastructure.Annual)).Append('\n');
            md.Append("- Managed services: ").Append(Money(proposal.ManagedServices.AnnualTotal)).Append("\n\n");
            md.Append("**Annual cost:** ").Append(Money(totals.YearlyRecurring)).Append("\n\n");
        }

        md.Append("### ").Append(term.ToString(Invariant)).Append("-Year Total\n\n");
        md.Append("**Total investment:** ").Append(Range(totals.TermTotal)).Append("\n\n---\n\n");
    }

    private static void Schedule(StringBuilder md, ServiceProposal proposal)
    {
        md.Append("## 6. Resource Schedule\n\n");
        md.Append("### Integration Team\n\n");
        if (proposal.Resources.Count > 0)
        {
            md.Append("| Role | Weeks | Rate | Basis |\n|---|---|---:|---|\n");
            foreach (var resource in proposal.Resources)
            {
                Row(md, Text(resource.Role), Weeks(resource.FromWeek, resource.ToWeek),
                    resource.HourlyRate is { } rate ? Money(rate) + "/hr" : "—", Text(resource.Basis));
            }

            md.Append('\n');
        }

        md.Append("### Timeline\n\n");
        if (proposal.Timeline.Count > 0)
        {
            md.Append("| Phase | Weeks | Resources |\n|---|---|---|\n");
            foreach (var phase in proposal.Timeline)
            {
                Row(md, Text(phase.Phase), Weeks(phase.FromWeek, phase.ToWeek), Text(string.Join(", ", phase.Resources)));
            }

            md.Append('\n');
        }

        md.Append("---\n\n");
    }

    private static void NextSteps(StringBuilder md, ServiceProposal proposal)
    {
        md.Append("## 7. Next Steps\n\n");
        md.Append("1. Review and approve this proposal\n");
        md.Append("2. Sign the license agreement\n");
        md.Append("3. Kick-off meeting\n");
        md.Append("4. Begin implementation\n\n");
        md.Append("**Proposal valid until:** ").Append(Date(proposal.ValidUntil)).Append('\n');
    }

    private static void Subtotal(StringBuilder md, decimal monthly) =>
        md.Append("\n**Subtotal:** ").Append(Money(monthly)).Append("/month = ").Append(Money(monthly * 12)).Append("/year\n\n");

    private static void Row(StringBuilder md, params string[] cells) => md.Append("| ").AppendJoin(" | ", cells).Append(" |\n");

    private static string Volume(VolumeLine line) =>
        $"{Number(line.Gb)} GB × {Money(line.MonthlyPerGb)}/GB = {Money(line.Monthly)}/month";

    private static string Retention(RetentionPlan plan)
    {
        var active = $"{Count(plan.ActiveDays, "day")} in the active database";
        return !plan.Archive ? active + ", then deleted"
            : plan.ArchiveDays is { } days ? $"{active}, then {Count(days, "day")} archived"
            : active + ", then archived for good";
    }

    /// <summary>An amount in US dollars: <c>$65,000</c>, <c>$0.10</c>, <c>-$5</c>.</summary>
    public static string Money(decimal amount)
    {
        var magnitude = Math.Abs(amount);
        var digits = magnitude == decimal.Truncate(magnitude) ? magnitude.ToString("#,##0", Invariant) : magnitude.ToString("#,##0.00##", Invariant);
        return (amount < 0 ? "-$" : "$") + digits;
    }

    /// <summary>A range of amounts, <c>$27,700 – $32,950</c>; one amount when it is exact.</summary>
    public static string Range(MoneyRange range)
    {
        ArgumentNullException.ThrowIfNull(range);
        return range.Min == range.Max ? Money(range.Min) : $"{Money(range.Min)} {Dash} {Money(range.Max)}";
    }

    private static string Hours(HoursEstimate hours) =>
        hours.Min == hours.Max ? Number(hours.Min) : $"{Number(hours.Min)}{Dash}{Number(hours.Max)}";

    private static string Weeks(int? from, int? to) => (from, to) switch
    {
        (null, null) => "As needed",
        ({ } f, { } t) when f == t => $"Week {f.ToString(Invariant)}",
        ({ } f, { } t) => $"Weeks {f.ToString(Invariant)}{Dash}{t.ToString(Invariant)}",
        ({ } f, null) => $"From week {f.ToString(Invariant)}",
        (null, { } t) => $"Until week {t.ToString(Invariant)}",
    };

    private static string Number(decimal value) => value.ToString("#,##0.##", Invariant);

    private static string Count(int count, string noun) => $"{count.ToString("#,##0", Invariant)} {noun}{(count == 1 ? "" : "s")}";

    private static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", Invariant);

    /// <summary>
    /// A code of the catalog or a client's custom KPIs (capitals, digits and underscores) as it is written, so it can be
    /// searched for; anything else in one is escaped as text.
    /// </summary>
    private static string Code(string code) => code.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? code : Text(code);

    private static string Codes(IEnumerable<string> codes) => string.Join(", ", codes.Select(Code));

    /// <summary>
    /// Text from the request or a configuration, safe inside a table cell or a line: line breaks become spaces, and the
    /// characters Markdown reads as table borders, emphasis, links, code or HTML are escaped with a backslash.
    /// </summary>
    public static string Text(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var text = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '\r' when i + 1 < value.Length && value[i + 1] == '\n':
                    break;
                case '\r' or '\n' or '\u2028' or '\u2029':
                    text.Append(' ');
                    break;
                // One inside a word (subscription_changes) is no emphasis; one at a word's edge (_x_) may be.
                case '_' when !(i > 0 && char.IsLetterOrDigit(value[i - 1]) && i + 1 < value.Length && char.IsLetterOrDigit(value[i + 1])):
                case '\\' or '|' or '*' or '`' or '[' or ']' or '<' or '>' or '~':
                    text.Append('\\').Append(c);
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }

        return text.ToString();
    }

    private static string Label(IntegrationMethod method) => ProposalLabels.Of(method);

    private static string Label(KpiComplexity complexity) => ProposalLabels.Of(complexity);

    private static string Label(HostingPlatform platform) => ProposalLabels.Of(platform);

    private static string Label(ComplianceRegime regime) => ProposalLabels.Of(regime);

    private static string Label(RefreshPeriod period) => period switch
    {
        RefreshPeriod.Minute => "every minute",
        RefreshPeriod.Hour => "every hour",
        RefreshPeriod.Day => "once a day",
        _ => period.ToString(),
    };
}
