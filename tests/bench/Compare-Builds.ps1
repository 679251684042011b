#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs the benchmarks against two builds of the module in turn and prints their rows side by side.

.DESCRIPTION
    A change to the event path is judged against the build before it, measured in the same run on
    the same host: each round runs Invoke-Benchmarks.ps1 once per build, in a pwsh of its own, the
    builds taking turns at going first. The table gives every row's value ("Ours") for each run
    and build, and each build's median where the values are numbers. Results of each run stay in
    OutDir/<build>-<round>/results.md.

.EXAMPLE
    dotnet pwsh ./tests/bench/Compare-Builds.ps1 -Baseline /tmp/old/out/Gadget -Candidate out/Gadget -Scenario Open, Flood, Start, Load, ExecAsRun
#>
[CmdletBinding()]
param(
    # The module the change is measured against.
    [Parameter(Mandatory)]
    [string] $Baseline,

    # The module with the change.
    [Parameter(Mandatory)]
    [string] $Candidate,

    [ValidateRange(1, 10)]
    [int] $Runs = 3,

    # Passed to Invoke-Benchmarks.ps1.
    [string[]] $Scenario = @('Open', 'Flood', 'Start', 'Load', 'ExecAsRun'),

    [string] $OutDir = (Join-Path ([IO.Path]::GetTempPath()) "gadget-compare-$PID")
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$builds = [ordered]@{ baseline = (Resolve-Path $Baseline).Path; candidate = (Resolve-Path $Candidate).Path }
$bench = Join-Path $PSScriptRoot 'Invoke-Benchmarks.ps1'
$repoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
New-Item $OutDir -ItemType Directory -Force | Out-Null

# Metric → build → the values of each run, in row order.
$values = [ordered]@{}
for ($round = 1; $round -le $Runs; $round++) {
    $order = if ($round % 2) { @('baseline', 'candidate') } else { @('candidate', 'baseline') }
    foreach ($name in $order) {
        $runDir = Join-Path $OutDir "$name-$round"
        Write-Host "Round $round of $Runs`: $name ($($builds[$name]))"
        Push-Location $repoRoot   # where the tool manifest names pwsh
        try {
            $command = "& '$bench' -ModulePath '$($builds[$name])' -OutDir '$runDir' -Runs 1 -Scenario $($Scenario -join ',')"
            & dotnet pwsh -NoProfile -NonInteractive -Command $command | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "The benchmarks of $name failed in round $round (exit code $LASTEXITCODE)." }
        }
        finally {
            Pop-Location
        }
        foreach ($line in Get-Content (Join-Path $runDir 'results.md')) {
            $cells = $line.Trim().Trim('|') -split '\s*\|\s*'
            if ($cells.Count -lt 2 -or $cells[0] -in 'Metric', '' -or $cells[0] -match '^-+$') { continue }
            # Labels that name what one run measured ("(499,996/s generated)", a bracket's spread) are the same row in every run.
            $cells[0] = $cells[0] -replace '\s*\([\d,]+/s generated\)', '' -replace '\s*\(untraced storms a bracket apart differ by [^)]*\)', ''
            if (-not $values.Contains($cells[0])) { $values[$cells[0]] = @{ baseline = @(); candidate = @() } }
            $values[$cells[0]][$name] += $cells[1]
        }
    }
}

function Get-MedianText([string[]] $Texts) {
    # The median of values such as "211,139/s", "1.28 µs" or "99.9 %", in the same unit; empty when they are not numbers.
    $numbers = @(foreach ($text in $Texts) { if ($text -match '^\s*(-?[\d,]+(?:\.\d+)?)\s*(.*)$') { [pscustomobject]@{ Value = [double]($Matches[1] -replace ',', ''); Unit = $Matches[2] } } })
    if ($numbers.Count -eq 0 -or $numbers.Count -ne $Texts.Count) { return '' }
    $sorted = @($numbers | Sort-Object Value)
    $middle = $sorted[[int][Math]::Floor(($sorted.Count - 1) / 2)]
    if ($sorted.Count % 2 -eq 0) { $value = ($middle.Value + $sorted[$sorted.Count / 2].Value) / 2 } else { $value = $middle.Value }
    '{0:N2} {1}' -f $value, $middle.Unit
}

$table = foreach ($metric in $values.Keys) {
    [pscustomobject]@{
        Metric              = $metric
        'Baseline runs'     = $values[$metric].baseline -join ' · '
        'Baseline median'   = Get-MedianText $values[$metric].baseline
        'Candidate runs'    = $values[$metric].candidate -join ' · '
        'Candidate median'  = Get-MedianText $values[$metric].candidate
    }
}
$table | Format-List | Out-String -Width 200 | Write-Host
$markdown = @('| Metric | Baseline (each run) | Baseline median | Candidate (each run) | Candidate median |', '|---|---|---|---|---|')
$markdown += $table | ForEach-Object { "| $($_.Metric) | $($_.'Baseline runs') | $($_.'Baseline median') | $($_.'Candidate runs') | $($_.'Candidate median') |" }
$markdown | Set-Content (Join-Path $OutDir 'comparison.md')
Write-Host "Comparison written to $(Join-Path $OutDir 'comparison.md')"
