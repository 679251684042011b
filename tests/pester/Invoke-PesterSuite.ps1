#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs the Pester suites against the built module and writes the counts as JSON.

.DESCRIPTION
    Imports Pester from -PesterPath, runs every tests/pester/*.Tests.ps1 with the staged module's
    path (as the container parameter ModulePath, and in $env:GADGET_MODULE_PATH for files run by
    hand), prints Pester's own output, writes {Passed, Failed, Skipped} to -SummaryPath and a JUnit
    report beside it (pester.junit.xml), and exits with 1 when anything failed.

    Meant to run in a fresh pwsh, the way a runbook would:

        dotnet pwsh -NoProfile -NonInteractive -File tests/pester/Invoke-PesterSuite.ps1 `
            -PesterPath <Pester.psd1> -ModulePath out/Gadget -SummaryPath out/test-results/pester.json

.EXAMPLE
    ./tests/pester/Invoke-PesterSuite.ps1 -PesterPath ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1 -ModulePath out/Gadget -SummaryPath /tmp/pester.json -FullNameFilter '*Help*'
#>
[CmdletBinding()]
param(
    # Pester's manifest (tools/Pester.psd1 in the NuGet package).
    [Parameter(Mandatory)]
    [string] $PesterPath,

    # The staged module directory (out/Gadget).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # Where to write {Passed, Failed, Skipped}.
    [Parameter(Mandatory)]
    [string] $SummaryPath,

    # Run only the tests whose full name matches one of these wildcards.
    [string[]] $FullNameFilter
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Get-FailedBlockCount {
    # Blocks that failed although none of their tests did (a failing AfterAll, for example):
    # each counts as one failure, so a broken cleanup cannot pass unnoticed.
    param($Result)
    $count = 0
    foreach ($block in $Result.FailedBlocks) {
        $pending = [Collections.Generic.Stack[object]]::new()
        $pending.Push($block)
        $testFailed = $false
        while ($pending.Count -gt 0 -and -not $testFailed) {
            $current = $pending.Pop()
            if (@($current.Tests | Where-Object Result -eq 'Failed').Count -gt 0) { $testFailed = $true }
            foreach ($child in $current.Blocks) { $pending.Push($child) }
        }
        if (-not $testFailed) { $count++ }
    }
    $count
}

$ModulePath = (Resolve-Path $ModulePath).ProviderPath
if (-not (Test-Path (Join-Path $ModulePath 'Gadget.psd1'))) { throw "No staged module in $ModulePath (run ./build.ps1 first)." }
$env:GADGET_MODULE_PATH = $ModulePath

Import-Module $PesterPath -Force
$summaryDir = Split-Path -Parent ([IO.Path]::GetFullPath($SummaryPath))
New-Item $summaryDir -ItemType Directory -Force | Out-Null

$containers = foreach ($file in Get-ChildItem $PSScriptRoot -Filter '*.Tests.ps1' | Sort-Object Name) {
    New-PesterContainer -Path $file.FullName -Data @{ ModulePath = $ModulePath }
}

$config = New-PesterConfiguration
$config.Run.Container = @($containers)
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($FullNameFilter) { $config.Filter.FullName = $FullNameFilter }

$result = $null
try {
    $result = Invoke-Pester -Configuration $config
}
catch {
    # Pester itself broke: report one failure rather than none.
    Write-Error -ErrorRecord $_ -ErrorAction Continue
}

# The JUnit report after the run, not by Pester during it: a failure message that XML cannot hold
# (a control character from a process's output) then costs the report, never the counts.
$junit = Join-Path $summaryDir 'pester.junit.xml'
Remove-Item -LiteralPath $junit -ErrorAction Ignore
if ($result) {
    try { $result | Export-JUnitReport -Path $junit }
    catch {
        Remove-Item -LiteralPath $junit -ErrorAction Ignore   # half written
        Write-Warning "No JUnit report: $($_.Exception.Message)"
    }
}

$summary = if ($result) {
    [ordered]@{
        Passed  = $result.PassedCount
        Failed  = $result.FailedCount + $result.FailedContainersCount + (Get-FailedBlockCount $result)
        Skipped = $result.SkippedCount
    }
}
else {
    [ordered]@{ Passed = 0; Failed = 1; Skipped = 0 }
}
$summary | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath -Encoding utf8NoBOM

exit $(if ($summary.Failed -gt 0 -or -not $result -or $result.Result -ne 'Passed') { 1 } else { 0 })
