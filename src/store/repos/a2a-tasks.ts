import type { Sql } from '../sql.js';
import type { A2aTaskRepo, A2aTaskRow } from '../types.js';

const COLUMNS = `tenant, owner, task_id AS "taskId", agent, node, task, updated_at AS "updatedAt"`;

/** A2A tasks as rows: the whole task as JSON, written over on every save (the SDK saves whole tasks). */
export function a2aTaskRepo(sql: Sql): A2aTaskRepo {
  return {
    async save(row) {
      await sql.run(
        `INSERT INTO a2a_tasks (tenant, owner, task_id, agent, node, task, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, owner, task_id) DO UPDATE SET
           node = excluded.node, task = excluded.task, updated_at = excluded.updated_at
         WHERE a2a_tasks.agent = excluded.agent`,
        [row.tenant, row.owner, row.taskId, row.agent, row.node, row.task, row.updatedAt],
      );
    },
    load(scope, taskId) {
      return sql.get<A2aTaskRow>(
        `SELECT ${COLUMNS} FROM a2a_tasks WHERE tenant = ? AND owner = ? AND agent = ? AND task_id = ?`,
        [scope.tenant, scope.owner, scope.agent, taskId],
      );
    },
    list(scope) {
      return sql.all<A2aTaskRow>(
        `SELECT ${COLUMNS} FROM a2a_tasks WHERE tenant = ? AND owner = ? AND agent = ? ORDER BY task_id`,
        [scope.tenant, scope.owner, scope.agent],
      );
    },
  };
}
