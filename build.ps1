#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates Gadget.

.DESCRIPTION
    Build  installs missing Debian packages, compiles the BPF objects and the solution, and stages
           the module in out/Gadget (manifest, format file, help, assemblies, agent).
    Generate  Builds the agent (which compiles the BPF objects) and src/Gadget.Generator, then
           rewrites what is generated from each gadget's BTF and gadget.yaml: the client's event
           classes (src/Gadget.Client/Events/Generated) and their format views
           (module/Gadget.Events.Format.ps1xml). Run it after changing a gadget's folder under bpf/,
           and commit its output.
    Image  The agent image, from scratch (no base image): the self-contained agent, libbpf and
           their shared libraries, as an OCI archive in out/image/gadget-agent.oci.tar
           (deploy/Build-AgentImage.ps1; recipe in deploy/Containerfile).
    Test   Build and Image, then the xunit suites and the Pester suites (in a fresh pwsh), and prints one
           closing line "N passed, N failed" with the totals of all of them.
    Package  Build, then the two files a release ships, in out/: Gadget.<version>.nupkg for the
           PowerShell Gallery (Publish-PSResource to a local repository), and Gadget.zip, which
           Azure Automation imports (the folder Gadget/ at its root).
    Demo   Build, then a local exec trace for a few seconds, printed as a table.
    Bench  Build, then the benchmarks (tests/bench), printed as one table.
    Soak   Build, then one trace of SoakDuration (10 minutes) at 20 k events/s, reporting how the
           agent's memory grows (tests/soak; goal ≤ 10 %). Not part of Test.
    Clean  Removes out/ and every bin/ and obj/.

.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test

.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Soak -SoakDuration 00:01:00
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Generate', 'Image', 'Test', 'Package', 'Demo', 'Bench', 'Soak', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Seconds the demo traces for.
    [ValidateRange(1, 3600)]
    [int] $DemoSeconds = 5,

    # How long the soak traces (a TimeSpan: 00:01:00 for a quick check).
    [ValidateScript({ $_ -ge [timespan]'00:00:10' -and $_ -le [timespan]'1.00:00:00' })]
    [timespan] $SoakDuration = '00:10:00'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'Gadget'
$AgentRuntime = if ([Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'linux-arm64' } else { 'linux-x64' }

# Debian packages by what needs them; each is installed only when its probe file is missing.
$DebianPackages = [ordered]@{
    'clang'          = '/usr/bin/clang'
    'llvm'           = '/usr/bin/llvm-strip'
    'libbpf-dev'     = '/usr/include/bpf/bpf_helpers.h'
    'libbpf1'        = '/usr/lib/x86_64-linux-gnu/libbpf.so.1'
    'libssl3'        = '/usr/lib/x86_64-linux-gnu/libssl.so.3'
    'bpftool'        = '/usr/sbin/bpftool'
    'dnsmasq-base'   = '/usr/sbin/dnsmasq'
    'bind9-dnsutils' = '/usr/bin/dig'
    'busybox-static' = '/bin/busybox'
    'iproute2'       = '/usr/sbin/ip'
    'containerd'     = '/usr/bin/containerd'
    'runc'           = '/usr/sbin/runc'
    # The kernel tests' sockets, mounts, capability checks and memory hog.
    'python3'        = '/usr/bin/python3'
}
$BenchPackages = [ordered]@{
    'libbpf-tools' = '/usr/sbin/execsnoop'
    'dnsperf'      = '/usr/bin/dnsperf'
    'bpftrace'     = '/usr/bin/bpftrace'
    'stress-ng'    = '/usr/bin/stress-ng'
    # The process snapshot's peer (ps -e) and the block top's loop device.
    'procps'       = '/usr/bin/ps'
    'mount'        = '/usr/sbin/losetup'
}

function Invoke-Native {
    # Runs a native command and stops the build when it fails.
    param([Parameter(Mandatory)][string] $Command, [string[]] $Arguments = @())
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE."
    }
}

function Install-DebianPackages {
    param([System.Collections.IDictionary] $Packages)
    $missing = @($Packages.GetEnumerator() | Where-Object { -not (Test-Path $_.Value) } | ForEach-Object Key)
    if ($missing.Count -eq 0) { return }
    if (-not (Get-Command apt-get -ErrorAction Ignore)) {
        throw "Missing packages ($($missing -join ', ')) and no apt-get to install them: install them by hand."
    }
    if ([Environment]::UserName -ne 'root') {
        throw "Missing packages: $($missing -join ', '). Install them as root: apt-get install $($missing -join ' ')"
    }
    Write-Host "Installing Debian packages: $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get @('update', '-qq')
    Invoke-Native apt-get (@('install', '-y', '-qq', '--no-install-recommends') + $missing)
}

function Get-PesterModulePath {
    # Pester comes from NuGet (the PowerShell Gallery is not reachable from build machines).
    $project = Join-Path $Root 'tests/pester/Pester.Restore.csproj'
    Invoke-Native dotnet @('restore', $project, '--verbosity', 'quiet')
    $packages = (& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
    $manifest = Join-Path $packages.Trim() 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $manifest)) { throw "Pester was restored but $manifest is missing." }
    $manifest
}

function Invoke-Build {
    Install-DebianPackages $DebianPackages
    Invoke-Native dotnet @('build', (Join-Path $Root 'Gadget.sln'), '-c', $Configuration, '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')

    # Stage the module: cmdlets, client and the load context that isolates them at the root, the
    # agent in agent/.
    if (Test-Path $ModuleOut) { Remove-Item $ModuleOut -Recurse -Force }
    foreach ($project in 'Gadget.Commands', 'Gadget.LoadContext') {
        Invoke-Native dotnet @('publish', (Join-Path $Root "src/$project"), '-c', $Configuration, '--no-build', '-o', $ModuleOut, '--nologo', '-v', 'quiet')
    }
    # The agent is native code (NativeAOT) for this machine's architecture.
    Invoke-Native dotnet @('publish', (Join-Path $Root 'src/Gadget.Agent'), '-c', $Configuration, '-r', $AgentRuntime, '-o', (Join-Path $ModuleOut 'agent'), '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')
    # Keep what runs: no symbols, XML docs or web-host leftovers.
    Get-ChildItem $ModuleOut -Recurse -Include '*.pdb', '*.dbg', 'Gadget.*.xml', 'gadget-agent.xml', 'web.config', '*.staticwebassets.*' | Remove-Item
    Get-ChildItem $ModuleOut -Filter '*.deps.json' | Remove-Item
    Copy-Item (Join-Path $Root 'module/Gadget.psd1'), (Join-Path $Root 'module/Gadget.psm1'), (Join-Path $Root 'module/Gadget.Format.ps1xml'), (Join-Path $Root 'module/Gadget.Events.Format.ps1xml') $ModuleOut
    & (Join-Path $Root 'module/help/Build-GadgetHelp.ps1') -ModulePath $ModuleOut
    Write-Host "Module staged in $ModuleOut"
}

function Invoke-Generate {
    # The generator reads the BPF objects the agent's build compiles (src/Gadget.Agent/obj/bpf).
    Install-DebianPackages $DebianPackages
    foreach ($project in 'Gadget.Agent', 'Gadget.Generator') {
        Invoke-Native dotnet @('build', (Join-Path $Root "src/$project"), '-c', $Configuration, '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')
    }
    Invoke-Native dotnet @('run', '--project', (Join-Path $Root 'src/Gadget.Generator'), '-c', $Configuration, '--no-build', '--', $Root)
}

function Invoke-Image {
    # -AgentPath: the agent Build just compiled, instead of compiling it a second time.
    param([string] $AgentPath)
    Install-DebianPackages $DebianPackages
    & (Join-Path $Root 'deploy/Build-AgentImage.ps1') -OutputPath (Join-Path $Out 'image') -Configuration $Configuration -AgentPath $AgentPath
}

function Invoke-Test {
    Invoke-Build
    # The kernel tests run this image under containerd.
    Invoke-Image -AgentPath (Join-Path $ModuleOut 'agent/gadget-agent')
    $results = Join-Path $Out 'test-results'
    New-Item $results -ItemType Directory -Force | Out-Null

    # xunit: unit and kernel integration tests, the kernel ones against the agent the module ships.
    $env:GADGET_AGENT_PATH = Join-Path $ModuleOut 'agent/gadget-agent'
    $trx = Join-Path $results 'xunit.trx'
    Remove-Item $trx -ErrorAction Ignore
    & dotnet test (Join-Path $Root 'tests/Gadget.Tests') -c $Configuration --no-build --nologo `
        --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal'
    $xunitExit = $LASTEXITCODE
    $xunitPassed = 0; $xunitFailed = 0
    if (Test-Path $trx) {
        $counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
        $xunitPassed = [int]$counters.passed
        $xunitFailed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    }
    if ($xunitExit -ne 0 -and $xunitFailed -eq 0) { $xunitFailed = 1 }   # the run itself broke

    # Pester: the built module in a fresh, non-interactive pwsh, the way a runbook runs it.
    $pester = Get-PesterModulePath
    $summary = Join-Path $results 'pester.json'
    Remove-Item $summary -ErrorAction Ignore
    $runner = Join-Path $Root 'tests/pester/Invoke-PesterSuite.ps1'
    & dotnet pwsh -NoProfile -NonInteractive -File $runner -PesterPath $pester -ModulePath $ModuleOut -SummaryPath $summary
    $pesterPassed = 0; $pesterFailed = 1
    if (Test-Path $summary) {
        $counts = Get-Content $summary -Raw | ConvertFrom-Json
        $pesterPassed = [int]$counts.Passed
        $pesterFailed = [int]$counts.Failed
    }

    # Name the failures again at the end: a log is often read from its tail.
    if (Test-Path $trx) {
        $ns = @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' }
        foreach ($result in Select-Xml -Path $trx -Namespace $ns -XPath '//t:UnitTestResult[@outcome!="Passed" and @outcome!="NotExecuted"]') {
            $message = "$($result.Node.Output.ErrorInfo.Message)".Trim() -split "`n" | Select-Object -First 1
            Write-Host "xunit failed: $($result.Node.testName): $message"
        }
    }
    $junit = Join-Path $results 'pester.junit.xml'
    if ((Test-Path $junit) -and $pesterFailed -gt 0) {
        # A failure message can carry characters that XML forbids (a terminal's escape codes), so
        # Pester's report may not parse: the closing line below must come all the same.
        try {
            foreach ($case in Select-Xml -Path $junit -XPath '//testcase[failure or error]') {
                Write-Host "Pester failed: $($case.Node.name)"
            }
        }
        catch { Write-Host "Pester failed: see the Pester output above ($($_.Exception.Message))" }
    }
    Write-Host "xunit: $xunitPassed passed, $xunitFailed failed; Pester: $pesterPassed passed, $pesterFailed failed"
    $passed = $xunitPassed + $pesterPassed
    $failed = $xunitFailed + $pesterFailed
    # The closing line CI reads.
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Package {
    Invoke-Build
    $version = (Import-PowerShellDataFile (Join-Path $ModuleOut 'Gadget.psd1')).ModuleVersion
    $nupkg = Join-Path $Out "Gadget.$version.nupkg"
    $zip = Join-Path $Out 'Gadget.zip'
    Remove-Item $nupkg, $zip -ErrorAction Ignore

    # PSResourceGet publishes only to a registered repository. Registering one writes to the
    # user's PSResourceGet settings, so the publishing pwsh gets a scratch data directory
    # (XDG_DATA_HOME, which must exist: .NET ignores a missing one) and the user's settings stay
    # as they were.
    $scratch = Join-Path ([IO.Path]::GetTempPath()) "gadget-package-$([Guid]::NewGuid().ToString('N'))"
    $repository = Join-Path $scratch 'repository'
    New-Item $repository, (Join-Path $scratch 'data') -ItemType Directory -Force | Out-Null
    $publish = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name GadgetPackage -Uri '$repository' -Trusted
Publish-PSResource -Path '$ModuleOut' -Repository GadgetPackage
"@
    $previousData = $env:XDG_DATA_HOME
    try {
        $env:XDG_DATA_HOME = Join-Path $scratch 'data'
        Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-Command', $publish)
        $published = Get-ChildItem $repository -Filter '*.nupkg' | Select-Object -First 1
        if (-not $published) { throw "Publish-PSResource wrote no package to $repository." }
        Move-Item $published.FullName $nupkg
    }
    finally {
        $env:XDG_DATA_HOME = $previousData
        Remove-Item $scratch -Recurse -Force -ErrorAction Ignore
    }

    # Azure Automation: the zip, the folder at its root and the manifest share the module's name.
    Compress-Archive -Path $ModuleOut -DestinationPath $zip
    Write-Host "Packaged $nupkg and $zip"
}

function Invoke-Demo {
    Invoke-Build
    # A little activity so the table has rows: a few commands, once a second, while the trace runs.
    $activity = Start-ThreadJob -ScriptBlock {
        param($Seconds)
        for ($i = 0; $i -lt $Seconds; $i++) {
            Start-Sleep -Milliseconds 700
            & /bin/uname -r | Out-Null
            & /bin/ls -la /tmp | Out-Null
            & /bin/sh -c "echo demo $i" | Out-Null
        }
    } -ArgumentList $DemoSeconds
    try {
        $command = "Import-Module '$ModuleOut'; Trace-GadgetExec -Local -Duration $DemoSeconds | Format-Table"
        Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-Command', $command)
    }
    finally {
        $activity | Stop-Job -PassThru | Remove-Job
    }
}

function Invoke-Bench {
    Invoke-Build
    Install-DebianPackages $BenchPackages
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'tests/bench/Invoke-Benchmarks.ps1'), '-ModulePath', $ModuleOut)
}

function Invoke-Soak {
    Invoke-Build
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'tests/soak/Invoke-Soak.ps1'), '-ModulePath', $ModuleOut, '-Duration', $SoakDuration.ToString())
}

function Invoke-Clean {
    if (Test-Path $Out) { Remove-Item $Out -Recurse -Force }
    Get-ChildItem $Root -Directory -Recurse -Include bin, obj | Remove-Item -Recurse -Force
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Generate' { Invoke-Generate }
    'Image' { Invoke-Image }
    'Test' { Invoke-Test }
    'Package' { Invoke-Package }
    'Demo' { Invoke-Demo }
    'Bench' { Invoke-Bench }
    'Soak' { Invoke-Soak }
    'Clean' { Invoke-Clean }
}
