using System.Globalization;

namespace AnalyticsEngine.Proposals;

/// <summary>
/// Turns the retention answers into the days a proposal prices: periods in days (a month is 30 days, a year 365), the
/// questionnaire's recommendation for what is not answered, and each compliance regime's minimum met by archiving longer.
/// </summary>
internal static class RetentionRules
{
    public const int DaysPerMonth = 30;
    public const int DaysPerYear = 365;

    /// <summary>The longest period a proposal prices: a hundred years.</summary>
    public const int MaxDays = RetentionAnswer.MaxPeriodDays;

    /// <summary>Raw rows: 90 days active (standard), archived 5 years (common for compliance).</summary>
    public static RetentionAnswer RecommendedStagedSourceData { get; } = new(90, RetentionUnit.Days, true, 5, RetentionUnit.Years);

    /// <summary>KPI values: a year active, archived 5 years.</summary>
    public static RetentionAnswer RecommendedAnalyticsData { get; } = new(365, RetentionUnit.Days, true, 5, RetentionUnit.Years);

    public static GranularityAnswer RecommendedGranularity { get; } = new();

    /// <summary>The years of retention a regime requires at least, or null when it sets none.</summary>
    public static int? MinimumYears(ComplianceRegime regime) => regime switch
    {
        ComplianceRegime.Sox => 7,
        ComplianceRegime.Hipaa => 6,
        _ => null,
    };

    /// <summary>
    /// The retention to price (or to apply), or null with the problems added when the answers are not usable; each
    /// problem names its field under <paramref name="at"/>, where the answers are in the request.
    /// </summary>
    public static ProposalRetention? Apply(RetentionAnswers? answers, List<string> problems, string at = "retention.")
    {
        var before = problems.Count;
        var staged = Plan(answers?.StagedSourceData ?? RecommendedStagedSourceData, $"{at}stagedSourceData", problems);
        var analytics = Plan(answers?.AnalyticsData ?? RecommendedAnalyticsData, $"{at}analyticsData", problems);
        IReadOnlyList<ComplianceRegime> regimes = [.. (answers?.Compliance ?? []).Distinct().Order()];
        for (var i = 0; i < (answers?.Compliance?.Count ?? 0); i++)
        {
            if (!Enum.IsDefined(answers!.Compliance![i]))
            {
                problems.Add($"{at}compliance[{i}]: is not a compliance regime; give gdpr, sox, hipaa or iso27001");
            }
        }

        if (answers?.OtherCompliance is { } other && (other.Length > ProposalCalculator.MaxTextLength || other.Any(char.IsControl)))
        {
            problems.Add($"{at}otherCompliance: give at most {ProposalCalculator.MaxTextLength} characters on one line");
        }

        if (staged is null || analytics is null || problems.Count > before)
        {
            return null;
        }

        var notes = new List<string>();
        return new ProposalRetention(
            Meet(staged, regimes, "Staged source data", notes),
            Meet(analytics, regimes, "Analytics data", notes),
            answers?.Granularity ?? RecommendedGranularity,
            regimes,
            answers?.OtherCompliance,
            notes);
    }

    private static RetentionPlan? Plan(RetentionAnswer answer, string field, List<string> problems)
    {
        var before = problems.Count;
        var activeDays = Days(answer.ActivePeriod, answer.ActiveUnit, $"{field}.activePeriod", problems);
        if (answer.ActiveUnit == RetentionUnit.Indefinite)
        {
            problems.Add($"{field}.activeUnit: the active database keeps data for a period of days, months or years; archive it to keep it for good");
        }

        int? archiveDays = null;
        if (answer.Archive)
        {
            switch (answer.ArchiveUnit)
            {
                case null:
                    problems.Add($"{field}.archiveUnit: say how long archives are kept: days, months, years or indefinite");
                    break;
                case RetentionUnit.Indefinite when answer.ArchivePeriod is not null:
                    problems.Add($"{field}.archivePeriod: archives kept indefinitely have no period; leave it out");
                    break;
                case RetentionUnit.Indefinite:
                    break;
                default:
                    archiveDays = answer.ArchivePeriod is { } period
                        ? Days(period, answer.ArchiveUnit.Value, $"{field}.archivePeriod", problems)
                        : Missing($"{field}.archivePeriod: say how many {answer.ArchiveUnit.Value.ToString().ToLowerInvariant()} archives are kept", problems);
                    break;
            }
        }
        else if (answer.ArchivePeriod is not null || answer.ArchiveUnit is not null)
        {
            problems.Add($"{field}.archive: is false, so data is deleted after its active period; give archivePeriod and archiveUnit only with archive: true");
        }

        return problems.Count > before ? null : new RetentionPlan(activeDays, answer.Archive, archiveDays);
    }

    private static int Missing(string problem, List<string> problems)
    {
        problems.Add(problem);
        return 0;
    }

    private static int Days(int period, RetentionUnit unit, string field, List<string> problems)
    {
        var days = unit switch
        {
            RetentionUnit.Days => (long)period,
            RetentionUnit.Months => (long)period * DaysPerMonth,
            RetentionUnit.Years => (long)period * DaysPerYear,
            _ => 0,
        };
        if (!Enum.IsDefined(unit))
        {
            problems.Add($"{field}: its unit is not days, months or years");
        }
        else if (unit != RetentionUnit.Indefinite && (period < 1 || days > MaxDays))
        {
            problems.Add($"{field}: give a period from 1 day to 100 years; it is {period} {unit.ToString().ToLowerInvariant()}");
        }

        return (int)Math.Clamp(days, 0, MaxDays);
    }

    /// <summary>Archives data longer where the strictest regime requires more than the plan keeps.</summary>
    private static RetentionPlan Meet(RetentionPlan plan, IReadOnlyList<ComplianceRegime> regimes, string kind, List<string> notes)
    {
        var strictest = regimes.Where(r => MinimumYears(r) is not null).OrderByDescending(r => MinimumYears(r)).ToList();
        if (strictest.Count == 0 || (plan.Archive && plan.ArchiveDays is null))
        {
            return plan;
        }

        var regime = strictest[0];
        var years = MinimumYears(regime)!.Value;

        var requiredDays = years * DaysPerYear;
        var keptDays = plan.ActiveDays + (plan.Archive ? plan.ArchiveDays!.Value : 0);
        if (keptDays >= requiredDays)
        {
            return plan;
        }

        var met = plan with { Archive = true, ArchiveDays = requiredDays - plan.ActiveDays };
        notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{kind}: archived {met.ArchiveDays:N0} days after its {plan.ActiveDays:N0} active days, {requiredDays:N0} days in all, to meet {ProposalLabels.Of(regime)}'s {years} years (it would have been kept {keptDays:N0} days)."));
        return met;
    }
}
