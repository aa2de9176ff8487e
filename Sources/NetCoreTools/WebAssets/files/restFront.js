// The REST server's front-end: lists, adds, renames and deletes users through fetch(), without reloading the page.
// User names are only ever rendered with textContent: they come from anyone who can reach the server.
'use strict';

const list = document.getElementById('list');
const errorBox = document.getElementById('error');
const form = document.getElementById('form');
const usernameInput = document.getElementById('username');

// Each user action starts with clearError(); every failure during it adds a line, so the reload that follows a
// failed request cannot hide why it failed.
function showError(message) {
  errorBox.textContent = errorBox.hidden ? message : `${errorBox.textContent}\n${message}`;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.textContent = '';
  errorBox.hidden = true;
}

// Sends one request; a non-2xx answer or a network failure becomes an Error whose message says what happened.
async function request(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new Error(`${method} ${url}: 서버에 연결할 수 없습니다 (${err.message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    const detail = text.trim() === '' ? response.statusText : text.trim();
    throw new Error(`${method} ${url}: ${response.status} ${detail}`);
  }
  return text;
}

function button(label, action) {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.className = action;
  element.dataset.action = action;
  return element;
}

function renderUser(id, name) {
  const row = document.createElement('div');
  row.className = 'user-row';
  row.dataset.userId = id;

  const nameView = document.createElement('span');
  nameView.className = 'user-name';
  nameView.textContent = name;

  const editButton = button('수정', 'edit');
  const removeButton = button('삭제', 'remove');

  // Inline edit instead of prompt(): the name becomes an input with 저장 (save) and 취소 (cancel) buttons.
  editButton.addEventListener('click', () => {
    const input = document.createElement('input');
    input.type = 'text';
    input.className = 'user-name-input';
    input.value = name;
    const saveButton = button('저장', 'save');
    const cancelButton = button('취소', 'cancel');
    const save = async () => {
      clearError();
      const newName = input.value.trim();
      if (newName === '') {
        showError('바꿀 이름을 입력하세요');
        return;
      }
      try {
        await request('PUT', `/user/${encodeURIComponent(id)}`, { name: newName });
      } catch (err) {
        showError(err.message);
      }
      await loadUsers();
    };
    const cancel = () => {
      clearError();
      loadUsers();
    };
    saveButton.addEventListener('click', save);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        save();
      } else if (event.key === 'Escape') {
        cancel();
      }
    });
    cancelButton.addEventListener('click', cancel);
    row.replaceChildren(input, saveButton, cancelButton);
    input.focus();
  });

  removeButton.addEventListener('click', async () => {
    clearError();
    try {
      await request('DELETE', `/user/${encodeURIComponent(id)}`);
    } catch (err) {
      showError(err.message);
    }
    await loadUsers();
  });

  row.append(nameView, editButton, removeButton);
  return row;
}

// Replaces the list with the server's users; data-count and data-version let a test wait for a finished render.
async function loadUsers() {
  let users;
  try {
    users = JSON.parse(await request('GET', '/users'));
  } catch (err) {
    showError(err.message);
    return;
  }
  const entries = users !== null && typeof users === 'object' ? Object.entries(users) : [];
  const rows = entries.map(([id, name]) => renderUser(id, String(name)));
  if (rows.length === 0) {
    const empty = document.createElement('div');
    empty.className = 'empty';
    empty.textContent = '등록된 사용자가 없습니다';
    rows.push(empty);
  }
  list.replaceChildren(...rows);
  list.dataset.count = String(entries.length);
  list.dataset.version = String(Number(list.dataset.version || '0') + 1);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError();
  const name = usernameInput.value.trim();
  if (name === '') {
    showError('이름을 입력하세요');
    return;
  }
  try {
    await request('POST', '/user', { name });
    usernameInput.value = '';
  } catch (err) {
    showError(err.message);
  }
  await loadUsers();
  usernameInput.focus();
});

loadUsers();
