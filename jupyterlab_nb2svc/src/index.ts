import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog,
  showErrorMessage,
  ToolbarButton
} from '@jupyterlab/apputils';
import { Cell, ICodeCellModel } from '@jupyterlab/cells';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './request';
import { sourceSha256 } from './sha256';

const PLUGIN_ID = 'nb2svc-jupyterlab:plugin';
const METADATA_KEY = 'nb2svc';
const FLAG_CLASS = 'nb2svc-flagged';

namespace CommandIDs {
  export const lint = 'nb2svc:lint';
  export const convert = 'nb2svc:convert';
}

interface IDiagnostic {
  code: string;
  name: string;
  kind: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  path: string;
  cell: { index: number; id: string | null; execution_count: number | null } | null;
  line: number;
  column: number;
}

interface ILintReply {
  path: string;
  diagnostics: IDiagnostic[];
  counts: { error: number; warning: number; info: number };
}

interface IFinding {
  code?: string;
  severity?: string;
  message?: string;
  cell?: { index: number } | number | null;
}

interface IConvertReply {
  path: string;
  output: string;
  manifest: string;
  run: string;
  package: string;
  model: string | null;
  model_cell: number | null;
  channels: { name: string; default: string; reader: string; cell: number }[];
  hyperparameters: string[];
  parameters: { name: string; default: string; option: string }[];
  steps: { function: string; cells: number[] }[];
  requirements: string[];
  findings: IFinding[];
  warnings: IFinding[];
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  for (const c of children) {
    node.append(c);
  }
  return node;
}

/** Save a dirty notebook: the server reads the file on disk. */
async function saveFirst(panel: NotebookPanel): Promise<void> {
  await panel.context.ready;
  if (panel.context.model.dirty || panel.context.model.cells.length === 0) {
    await panel.context.save();
  }
}

function cellFor(panel: NotebookPanel, d: IDiagnostic): Cell | undefined {
  if (!d.cell) {
    return undefined;
  }
  const widgets = panel.content.widgets;
  if (d.cell.id) {
    const byId = widgets.find(w => w.model.id === d.cell!.id);
    if (byId) {
      return byId;
    }
  }
  return widgets[d.cell.index - 1];
}

async function revealCell(
  app: JupyterFrontEnd,
  panel: NotebookPanel,
  cell: Cell
): Promise<void> {
  app.shell.activateById(panel.id);
  const index = panel.content.widgets.indexOf(cell);
  if (index >= 0) {
    panel.content.activeCellIndex = index;
  }
  await panel.content.scrollToCell(cell, 'center');
}

function clearMarks(panel: NotebookPanel): void {
  for (const cell of panel.content.widgets) {
    cell.removeClass(FLAG_CLASS);
    for (const s of ['error', 'warning', 'info']) {
      cell.removeClass(`${FLAG_CLASS}-${s}`);
    }
    delete cell.node.dataset.nb2svc;
    cell.node.removeAttribute('title');
  }
}

function markCells(panel: NotebookPanel, diagnostics: IDiagnostic[]): void {
  clearMarks(panel);
  const rank = { error: 2, warning: 1, info: 0 };
  const byCell = new Map<Cell, IDiagnostic[]>();
  for (const d of diagnostics) {
    const cell = cellFor(panel, d);
    if (cell) {
      byCell.set(cell, [...(byCell.get(cell) || []), d]);
    }
  }
  for (const [cell, list] of byCell) {
    const worst = list.reduce((a, b) => (rank[b.severity] > rank[a.severity] ? b : a));
    cell.addClass(FLAG_CLASS);
    cell.addClass(`${FLAG_CLASS}-${worst.severity}`);
    cell.node.dataset.nb2svc = list.map(d => d.code).join(' ');
    cell.node.setAttribute(
      'title',
      list.map(d => `${d.code} (${d.severity}) line ${d.line}: ${d.message}`).join('\n')
    );
  }
}

/** The diagnostics panel of one notebook, docked below it. */
class LintPanel extends Widget {
  constructor(
    private app: JupyterFrontEnd,
    readonly notebook: NotebookPanel
  ) {
    super();
    this.id = `nb2svc-lint-${notebook.id}`;
    this.addClass('nb2svc-LintPanel');
    this.title.closable = true;
    this.title.caption = 'nb2svc lint';
    notebook.disposed.connect(() => this.dispose());
  }

  show_(reply: ILintReply): void {
    this.title.label = `Lint: ${reply.path.split('/').pop()}`;
    const body = this.node;
    body.replaceChildren();
    const { error, warning, info } = reply.counts;
    const n = reply.diagnostics.length;
    body.append(
      el(
        'div',
        { class: 'nb2svc-summary' },
        n === 0
          ? `${reply.path}: no findings.`
          : `${reply.path}: ${n} finding${n === 1 ? '' : 's'} (${error} error, ${warning} warning, ${info} info). Click a row to go to the cell.`
      )
    );
    if (n === 0) {
      return;
    }
    const table = el('table', { class: 'nb2svc-diagnostics' });
    table.append(
      el(
        'thead',
        {},
        el('tr', {}, ...['cell', 'line', 'code', 'severity', 'message'].map(h => el('th', {}, h)))
      )
    );
    const tbody = el('tbody');
    for (const d of reply.diagnostics) {
      const cellLabel = d.cell
        ? `${d.cell.index}` + (d.cell.execution_count !== null ? ` [${d.cell.execution_count}]` : '')
        : '—';
      const row = el(
        'tr',
        {
          class: `nb2svc-diagnostic nb2svc-severity-${d.severity}`,
          'data-code': d.code,
          'data-cell': d.cell ? String(d.cell.index) : ''
        },
        el('td', {}, cellLabel),
        el('td', {}, String(d.line)),
        el('td', { title: d.name }, d.code),
        el('td', {}, d.severity),
        el('td', {}, d.message)
      );
      row.addEventListener('click', () => {
        const cell = cellFor(this.notebook, d);
        if (cell) {
          void revealCell(this.app, this.notebook, cell);
        }
      });
      tbody.append(row);
    }
    table.append(tbody);
    body.append(table);
  }
}

const panels = new Map<string, LintPanel>();

async function runLint(app: JupyterFrontEnd, panel: NotebookPanel): Promise<void> {
  try {
    await saveFirst(panel);
    const reply = await requestAPI<ILintReply>(
      'lint',
      { path: panel.context.path },
      app.serviceManager.serverSettings
    );
    markCells(panel, reply.diagnostics);
    let view = panels.get(panel.id);
    if (!view || view.isDisposed) {
      view = new LintPanel(app, panel);
      panels.set(panel.id, view);
      view.disposed.connect(() => {
        panels.delete(panel.id);
        if (!panel.isDisposed) {
          clearMarks(panel);
        }
      });
      app.shell.add(view, 'main', { mode: 'split-bottom', ref: panel.id });
    }
    view.show_(reply);
    app.shell.activateById(panel.id);
    const n = reply.diagnostics.length;
    Notification.info(`nb2svc lint: ${n} finding${n === 1 ? '' : 's'} in ${reply.path}`, {
      autoClose: 3000
    });
  } catch (error) {
    await showErrorMessage('nb2svc lint failed', String((error as Error).message || error));
  }
}

function findingText(f: IFinding): string {
  const cell =
    f.cell && typeof f.cell === 'object' ? ` cell ${f.cell.index}` : f.cell ? ` cell ${f.cell}` : '';
  return `${f.severity || 'note'}${cell}${f.code ? ` [${f.code}]` : ''}: ${f.message || ''}`;
}

function convertBody(r: IConvertReply): Widget {
  const node = el('div', { class: 'nb2svc-convert-result' });
  const section = (title: string, items: string[], empty: string): void => {
    node.append(el('h3', {}, title));
    if (items.length === 0) {
      node.append(el('p', { class: 'nb2svc-empty' }, empty));
      return;
    }
    node.append(el('ul', {}, ...items.map(i => el('li', {}, i))));
  };
  node.append(
    el(
      'p',
      {},
      'Package ',
      el('code', { class: 'nb2svc-package' }, r.package),
      ' written to ',
      el('code', { class: 'nb2svc-output' }, `${r.output}/`)
    )
  );
  node.append(el('p', {}, 'Run it: ', el('code', {}, r.run)));
  node.append(el('h3', {}, 'Model'));
  node.append(
    el(
      'p',
      { class: 'nb2svc-model' },
      r.model ? `${r.model}${r.model_cell ? ` (cell ${r.model_cell})` : ''}` : 'no model found'
    )
  );
  section(
    'Parameters',
    r.parameters.map(p => `${p.name} = ${p.default}  (${p.option})`),
    'no parameters cell (tag a cell "parameters")'
  );
  section(
    'Channels',
    r.channels.map(c => `${c.name} ← ${c.default} (${c.reader}, cell ${c.cell})`),
    'no data channels found'
  );
  section(
    'Steps',
    r.steps.map(s => `${s.function}()  cells ${s.cells.join(', ')}`),
    'no steps'
  );
  section('Warnings', r.warnings.map(findingText), 'none');
  return new Widget({ node });
}

async function runConvert(app: JupyterFrontEnd, panel: NotebookPanel): Promise<void> {
  let reply: IConvertReply;
  try {
    await saveFirst(panel);
    reply = await requestAPI<IConvertReply>(
      'convert',
      { path: panel.context.path },
      app.serviceManager.serverSettings
    );
  } catch (error) {
    await showErrorMessage(
      'Convert to service failed',
      String((error as Error).message || error)
    );
    return;
  }
  Notification.success(`nb2svc: package written to ${reply.output}/`, { autoClose: 5000 });
  await showDialog({
    title: `Converted ${reply.path}`,
    body: convertBody(reply),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

/** Toolbar buttons for every notebook panel (Elyra-style widget extension). */
class ButtonExtension implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): { dispose(): void; readonly isDisposed: boolean } {
    const lint = new ToolbarButton({
      label: 'Lint',
      className: 'nb2svc-lint-button',
      tooltip: 'nb2svc lint: hidden state and production blockers (no kernel needed)',
      onClick: () => void runLint(this.app, panel)
    });
    const convert = new ToolbarButton({
      label: 'Convert to service',
      className: 'nb2svc-convert-button',
      tooltip: 'nb2svc convert: write an importable package from this notebook',
      onClick: () => void runConvert(this.app, panel)
    });
    panel.toolbar.insertItem(10, 'nb2svc-lint', lint);
    panel.toolbar.insertItem(11, 'nb2svc-convert', convert);
    let disposed = false;
    return {
      dispose: () => {
        disposed = true;
        lint.dispose();
        convert.dispose();
      },
      get isDisposed() {
        return disposed;
      }
    };
  }
}

/**
 * Provenance: when a cell runs, record the hash of the source that ran (captured when the
 * run was scheduled), the kernel's session id (new after every restart) and the count.
 */
function trackProvenance(tracker: INotebookTracker, enabled: () => boolean): void {
  const scheduled = new WeakMap<object, string>();
  const kernelSession = new WeakMap<object, string>();
  tracker.widgetAdded.connect((_, panel) => {
    panel.sessionContext.iopubMessage.connect((ctx, msg) => {
      if (msg.header && msg.header.session) {
        kernelSession.set(ctx, msg.header.session);
      }
    });
  });
  NotebookActions.executionScheduled.connect((_, { cell }) => {
    if (cell.model.type === 'code') {
      scheduled.set(cell.model, cell.model.sharedModel.getSource());
    }
  });
  NotebookActions.executed.connect((_, { notebook, cell }) => {
    if (cell.model.type !== 'code' || !enabled()) {
      return;
    }
    const model = cell.model as ICodeCellModel;
    const source = scheduled.get(model) ?? model.sharedModel.getSource();
    scheduled.delete(model);
    const count = model.executionCount;
    if (count === null || count === undefined) {
      return; // did not run (e.g. skipped after an error above)
    }
    const panel = tracker.find(p => p.content === notebook);
    const session = panel ? kernelSession.get(panel.sessionContext) ?? null : null;
    model.setMetadata(METADATA_KEY, {
      source_sha256: sourceSha256(source),
      kernel_session: session,
      execution_count: count,
      executed_at: new Date().toISOString()
    });
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'notebook2service: Lint and Convert to service buttons, cell run provenance.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null
  ) => {
    const current = (): NotebookPanel | null => tracker.currentWidget;
    app.commands.addCommand(CommandIDs.lint, {
      label: 'nb2svc: Lint notebook',
      caption: 'Check the notebook for hidden state and production blockers',
      isEnabled: () => current() !== null,
      execute: async () => {
        const panel = current();
        if (panel) {
          await runLint(app, panel);
        }
      }
    });
    app.commands.addCommand(CommandIDs.convert, {
      label: 'nb2svc: Convert notebook to service',
      caption: 'Write an importable package from the notebook',
      isEnabled: () => current() !== null,
      execute: async () => {
        const panel = current();
        if (panel) {
          await runConvert(app, panel);
        }
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.lint, category: 'notebook2service' });
      palette.addItem({ command: CommandIDs.convert, category: 'notebook2service' });
    }
    app.docRegistry.addWidgetExtension('Notebook', new ButtonExtension(app));

    let record = true;
    if (settings) {
      void settings
        .load(PLUGIN_ID)
        .then(s => {
          const update = () => {
            record = s.get('recordProvenance').composite !== false;
          };
          update();
          s.changed.connect(update);
        })
        .catch(() => undefined);
    }
    trackProvenance(tracker, () => record);
  }
};

export default plugin;
